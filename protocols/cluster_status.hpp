#pragma once
// What http/ may ask about this node's cluster (GET /readyz and
// GET /v1/admin/cluster, API.md "Ops"): answered from memory, never by a
// store call on the caller's thread. The lease keeper's view implements it
// in cluster mode (actors/shard_map.hpp); a single node answers with
// standalone_cluster_status.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tally {

/// A member as the store's clock sees it.
enum class member_status : uint8_t {
  /// Lease renewals current (the last one within two renewal periods).
  alive,
  /// Renewals late, leases not yet expired.
  suspect,
  /// Leases expired (or the node left).
  dead,
};

std::string_view to_string(member_status status);

/// One row of GET /v1/admin/cluster.
struct cluster_member {
  std::string id;
  /// host:port of its HTTP listener.
  std::string address;
  member_status status = member_status::dead;
  /// Shards it holds an unexpired lease for.
  int shards = 0;
};

class cluster_status {
public:
  virtual ~cluster_status() = default;

  /// This node's TALLY_NODE_ID.
  virtual std::string node_id() const = 0;

  /// Empty when the node may be called ready; otherwise why not
  /// ("joining", "leases_expired"): /readyz reports it as checks.cluster.
  virtual std::string readiness_problem() const = 0;

  /// Every member (this node included), as last read from the store.
  virtual std::vector<cluster_member> members() const = 0;
};

/// A single node (no TALLY_CLUSTER): ready, alone, owns every shard.
class standalone_cluster_status final : public cluster_status {
public:
  standalone_cluster_status(std::string node_id, std::string address);
  std::string node_id() const override;
  std::string readiness_problem() const override;
  std::vector<cluster_member> members() const override;

private:
  std::string node_id_;
  std::string address_;
};

} // namespace tally
