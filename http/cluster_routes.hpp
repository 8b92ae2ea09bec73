#pragma once
// GET /v1/admin/cluster (API.md "Ops"): the members as this node last read
// them from the store, answered on the calling thread from memory.
#include <memory>

namespace tally {

struct request_context;

/// 200 {"node_id", "nodes": [{"id", "address", "status", "shards"}]}.
void get_cluster(const std::shared_ptr<request_context>& context);

} // namespace tally
