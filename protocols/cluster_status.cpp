#include "protocols/cluster_status.hpp"

#include <utility>

#include "protocols/cluster.hpp"

namespace tally {

std::string_view to_string(member_status status) {
  switch (status) {
    case member_status::alive: return "alive";
    case member_status::suspect: return "suspect";
    case member_status::dead: return "dead";
  }
  return "dead";
}

standalone_cluster_status::standalone_cluster_status(std::string node_id, std::string address)
  : node_id_(std::move(node_id)), address_(std::move(address)) {}

std::string standalone_cluster_status::node_id() const {
  return node_id_;
}

std::string standalone_cluster_status::readiness_problem() const {
  return {};
}

std::vector<cluster_member> standalone_cluster_status::members() const {
  return {cluster_member{node_id_, address_, member_status::alive, shard_count}};
}

} // namespace tally
