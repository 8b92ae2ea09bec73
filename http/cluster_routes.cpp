#include "http/cluster_routes.hpp"

#include "http/request_context.hpp"
#include "http/request_handler.hpp"
#include "protocols/cluster_status.hpp"
#include "protocols/json_writer.hpp"

namespace tally {

void get_cluster(const std::shared_ptr<request_context>& context) {
  const auto& config = context->handler.config();
  auto address = config.host + ":" + std::to_string(config.port);
  standalone_cluster_status alone{address, address};
  const cluster_status& cluster = config.cluster != nullptr ? *config.cluster : alone;
  std::string body;
  json_writer json(body);
  json.begin_object().key("node_id").string(cluster.node_id()).key("nodes").begin_array();
  for (const auto& member : cluster.members()) {
    json.begin_object()
      .key("id").string(member.id)
      .key("address").string(member.address)
      .key("status").string(to_string(member.status))
      .key("shards").integer(static_cast<int64_t>(member.shards))
      .end_object();
  }
  json.end_array().end_object();
  context->answer_json(http::status::ok, std::move(body));
}

} // namespace tally
