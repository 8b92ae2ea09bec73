// GET /v1/admin/cluster and the cluster check of /readyz (http/cluster_routes,
// http/ops_routes) over a fixed cluster_status, without sockets.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "handler_fixture.hpp"
#include "protocols/cluster_status.hpp"

using namespace tally;
using namespace tally::test;
using nlohmann::json;

namespace {

struct fixed_status final : cluster_status {
  std::string problem;
  std::string node_id() const override { return "n1"; }
  std::string readiness_problem() const override { return problem; }
  std::vector<cluster_member> members() const override {
    return {{"n1", "127.0.0.1:8081", member_status::alive, 130},
            {"n2", "127.0.0.1:8082", member_status::suspect, 126},
            {"n3", "127.0.0.1:8083", member_status::dead, 0}};
  }
};

} // namespace

TEST_CASE("GET /v1/admin/cluster lists the members with status and shards, admins only") {
  fixed_status status;
  fixture f([&](http_config& config) { config.cluster = &status; });
  auto response = f.get("/v1/admin/cluster", {{"Authorization", "Bearer " + std::string(test_admin_token)}});
  REQUIRE(response.result() == http::status::ok);
  auto body = json::parse(response.body());
  CHECK(body["node_id"] == "n1");
  REQUIRE(body["nodes"].size() == 3);
  CHECK(body["nodes"][0] == json{{"id", "n1"}, {"address", "127.0.0.1:8081"}, {"status", "alive"}, {"shards", 130}});
  CHECK(body["nodes"][1]["status"] == "suspect");
  CHECK(body["nodes"][2]["status"] == "dead");
  CHECK(f.get("/v1/admin/cluster").result() == http::status::unauthorized);
}

TEST_CASE("a single node lists itself with every shard") {
  fixture f;  // no cluster view: the node is named after host:port
  auto response = f.get("/v1/admin/cluster", {{"Authorization", "Bearer " + std::string(test_admin_token)}});
  REQUIRE(response.result() == http::status::ok);
  auto body = json::parse(response.body());
  CHECK(body["node_id"] == "127.0.0.1:8080");
  CHECK(body["nodes"] == json::array({json{{"id", "127.0.0.1:8080"}, {"address", "127.0.0.1:8080"},
                                           {"status", "alive"}, {"shards", 256}}}));
}

TEST_CASE("readyz is 503 while the node has not joined or its leases expired") {
  fixed_status status;
  fixture f([&](http_config& config) { config.cluster = &status; });
  status.problem = "joining";
  auto joining = f.get("/readyz");
  CHECK(joining.result() == http::status::service_unavailable);
  CHECK(json::parse(joining.body())["checks"]["cluster"] == "joining");
  status.problem = "leases_expired";
  CHECK(json::parse(f.get("/readyz").body())["checks"]["cluster"] == "leases_expired");
  status.problem.clear();
  auto ready = f.get("/readyz");
  CHECK(ready.result() == http::status::ok);
  CHECK(json::parse(ready.body()) == json{{"status", "ready"}, {"checks", {{"store", "ok"}, {"backlog", "ok"}}}});
}
