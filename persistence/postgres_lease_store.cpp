// The Postgres lease store (persistence/lease_store.hpp): membership and
// shard leases on a connection of its own. Every lease decision is one
// conditional statement evaluated with the database's now().
#include <pqxx/pqxx>

#include <algorithm>
#include <utility>

#include "persistence/lease_store.hpp"
#include "persistence/store.hpp"

namespace tally {

namespace {

/// Seconds libpq waits for a connection: an unreachable Postgres must fail
/// a tick, not hold the keeper past its deadlines.
constexpr int lease_connect_timeout_s = 2;

/// `url` with connect_timeout added unless it names one already.
std::string with_connect_timeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  auto separator = url.find('?') == std::string::npos ? "?" : "&";
  return url + separator + "connect_timeout=" + std::to_string(lease_connect_timeout_s);
}

std::string int_array(const std::vector<int>& values) {
  std::string text = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(values[i]);
  }
  return text + "}";
}

// -- statements (DESIGN.md "Cluster") ----------------------------------------------

constexpr const char* join_meta =
  "INSERT INTO cluster_meta (id, shard_count) VALUES (1, $1) ON CONFLICT (id) DO NOTHING";
constexpr const char* read_meta = "SELECT shard_count FROM cluster_meta WHERE id = 1";
constexpr const char* join_shards =
  "INSERT INTO shard_leases (shard) SELECT generate_series(0, $1::integer - 1)"
  " ON CONFLICT (shard) DO NOTHING";
// A new incarnation per process start: leases of an earlier one are not
// this process's (they expire, or are released by nobody).
constexpr const char* join_node =
  "INSERT INTO cluster_nodes (id, incarnation, http_address, internal_address, lease_ttl_ms)"
  " VALUES ($1, 1, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET"
  " incarnation = cluster_nodes.incarnation + 1, http_address = excluded.http_address,"
  " internal_address = excluded.internal_address, lease_ttl_ms = excluded.lease_ttl_ms,"
  " joined_at = now(), renewed_at = now(), left_at = NULL RETURNING incarnation";
// Free (released or never owned) or expired by the database clock; only a
// current, not departed incarnation may claim.
constexpr const char* claim_shards =
  "UPDATE shard_leases SET owner_node = $1, owner_incarnation = $2, epoch = epoch + 1,"
  " expires_at = now() + $3::bigint * interval '1 millisecond'"
  " WHERE shard = ANY($4::integer[]) AND (owner_node IS NULL OR expires_at < now())"
  " AND EXISTS (SELECT 1 FROM cluster_nodes WHERE id = $1 AND incarnation = $2 AND left_at IS NULL)"
  " RETURNING shard, epoch";
// One statement per tick: the node row and every unexpired lease of this
// incarnation. An expired lease is not renewed (another node may hold it
// now, or will): it must be claimed again, which bumps its epoch. The row
// with shard -1 says the node row itself was renewed.
constexpr const char* renew_leases =
  "WITH node AS (UPDATE cluster_nodes SET renewed_at = now() WHERE id = $1 AND incarnation = $2"
  " AND left_at IS NULL RETURNING id),"
  " held AS (UPDATE shard_leases SET expires_at = now() + $3::bigint * interval '1 millisecond'"
  " WHERE owner_node = $1 AND owner_incarnation = $2 AND expires_at > now()"
  " AND EXISTS (SELECT 1 FROM node) RETURNING shard, epoch)"
  " SELECT shard, epoch FROM held UNION ALL SELECT -1, 0 FROM node";
constexpr const char* release_shards =
  "UPDATE shard_leases SET owner_node = NULL, owner_incarnation = NULL, expires_at = '-infinity'"
  " WHERE shard = ANY($3::integer[]) AND owner_node = $1 AND owner_incarnation = $2";
constexpr const char* leave_cluster =
  "WITH gone AS (UPDATE cluster_nodes SET left_at = now() WHERE id = $1 AND incarnation = $2 RETURNING id)"
  " UPDATE shard_leases SET owner_node = NULL, owner_incarnation = NULL, expires_at = '-infinity'"
  " WHERE owner_node = $1 AND owner_incarnation = $2";
constexpr const char* read_routing =
  "SELECT l.shard, l.owner_node, n.internal_address FROM shard_leases AS l"
  " JOIN cluster_nodes AS n ON n.id = l.owner_node AND n.incarnation = l.owner_incarnation"
  " WHERE l.expires_at > now() ORDER BY l.shard";
// alive: renewed within half a TTL (two renewal periods and some); dead:
// not renewed for a whole TTL (so its leases have expired) or left.
constexpr const char* read_members =
  "SELECT n.id, n.http_address, n.internal_address, n.left_at IS NOT NULL,"
  " CASE WHEN n.left_at IS NOT NULL OR n.renewed_at + n.lease_ttl_ms * interval '1 millisecond' < now()"
  " THEN 'dead' WHEN n.renewed_at + n.lease_ttl_ms * interval '1 millisecond' / 2 >= now() THEN 'alive'"
  " ELSE 'suspect' END,"
  " (SELECT count(*) FROM shard_leases AS l WHERE l.owner_node = n.id"
  " AND l.owner_incarnation = n.incarnation AND l.expires_at > now())"
  " FROM cluster_nodes AS n WHERE n.renewed_at > now() - $1::bigint * interval '1 second' ORDER BY n.id";

member_status parse_status(const std::string& text) {
  if (text == "alive") return member_status::alive;
  if (text == "suspect") return member_status::suspect;
  return member_status::dead;
}

class postgres_lease_store final : public lease_store {
public:
  postgres_lease_store(std::string url, std::chrono::milliseconds ttl)
    : url_(with_connect_timeout(url)),
      ttl_ms_(ttl.count()),
      statement_timeout_ms_(std::min<int64_t>(ttl.count() / 5, lease_statement_timeout_max.count())) {}

  lease_holder join(const node_registration& node, int shard_count) override {
    return guarded("join", [&](pqxx::connection& db) {
      pqxx::work tx(db);
      tx.exec_params(join_meta, shard_count);
      auto recorded = tx.exec1(read_meta)[0].as<int>();
      if (recorded != shard_count)
        throw shard_count_mismatch("the cluster in this store has " + std::to_string(recorded) +
                                   " shards; this build has " + std::to_string(shard_count));
      tx.exec_params(join_shards, shard_count);
      auto incarnation = tx.exec_params1(join_node, node.node_id, node.http_address, node.internal_address,
                                         static_cast<int64_t>(node.lease_ttl.count()))[0]
                           .as<int64_t>();
      tx.commit();
      holder_ = lease_holder{node.node_id, incarnation};
      return holder_;
    });
  }

  std::vector<held_lease> claim(const std::vector<int>& shards) override {
    if (shards.empty()) return {};
    return guarded("claim", [&](pqxx::connection& db) {
      pqxx::nontransaction tx(db);
      return leases_from(tx.exec_params(claim_shards, holder_.node_id, holder_.incarnation, ttl_ms_,
                                        int_array(shards)));
    });
  }

  renewal renew() override {
    return guarded("renew", [&](pqxx::connection& db) {
      pqxx::nontransaction tx(db);
      renewal answer;
      for (const auto& row : tx.exec_params(renew_leases, holder_.node_id, holder_.incarnation, ttl_ms_)) {
        auto shard = row[0].as<int>();
        if (shard < 0)
          answer.member = true;
        else
          answer.leases.push_back(held_lease{shard, row[1].as<int64_t>()});
      }
      return answer;
    });
  }

  void release(const std::vector<int>& shards) override {
    if (shards.empty()) return;
    guarded("release", [&](pqxx::connection& db) {
      pqxx::nontransaction tx(db);
      tx.exec_params(release_shards, holder_.node_id, holder_.incarnation, int_array(shards));
      return 0;
    });
  }

  void leave() override {
    guarded("leave", [&](pqxx::connection& db) {
      pqxx::nontransaction tx(db);
      tx.exec_params(leave_cluster, holder_.node_id, holder_.incarnation);
      return 0;
    });
  }

  std::vector<shard_owner> routing_map() override {
    return guarded("routing map", [&](pqxx::connection& db) {
      pqxx::nontransaction tx(db);
      std::vector<shard_owner> owners;
      for (const auto& row : tx.exec(read_routing))
        owners.push_back(shard_owner{row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>()});
      return owners;
    });
  }

  std::vector<member_row> members() override {
    return guarded("members", [&](pqxx::connection& db) {
      pqxx::nontransaction tx(db);
      std::vector<member_row> rows;
      auto window_s = std::chrono::duration_cast<std::chrono::seconds>(member_rows_window).count();
      for (const auto& row : tx.exec_params(read_members, static_cast<int64_t>(window_s))) {
        member_row member;
        member.view = cluster_member{row[0].as<std::string>(), row[1].as<std::string>(),
                                     parse_status(row[4].as<std::string>()), row[5].as<int>()};
        member.internal_address = row[2].as<std::string>();
        member.left = row[3].as<bool>();
        rows.push_back(std::move(member));
      }
      return rows;
    });
  }

private:
  static std::vector<held_lease> leases_from(const pqxx::result& rows) {
    std::vector<held_lease> leases;
    for (const auto& row : rows) leases.push_back(held_lease{row[0].as<int>(), row[1].as<int64_t>()});
    return leases;
  }

  pqxx::connection& connected() {
    if (connection_ && connection_->is_open()) return *connection_;
    connection_.reset();
    auto fresh = std::make_unique<pqxx::connection>(url_);
    fresh->set_variable("statement_timeout", std::to_string(statement_timeout_ms_));
    connection_ = std::move(fresh);
    return *connection_;
  }

  /// Runs one call. Any failure but a shard-count mismatch is transient for
  /// the keeper (the next tick tries again on a fresh connection).
  template <class F>
  auto guarded(const char* operation, F&& call) -> decltype(call(std::declval<pqxx::connection&>())) {
    try {
      return call(connected());
    } catch (const shard_count_mismatch&) {
      throw;
    } catch (const std::exception& e) {
      connection_.reset();
      throw store_error(store_fault::transient, std::string("postgres lease store: ") + operation + ": " + e.what());
    }
  }

  std::string url_;
  int64_t ttl_ms_;
  int64_t statement_timeout_ms_;
  lease_holder holder_;
  std::unique_ptr<pqxx::connection> connection_;
};

} // namespace

std::unique_ptr<lease_store> open_postgres_lease_store(const std::string& url, std::chrono::milliseconds lease_ttl) {
  return std::make_unique<postgres_lease_store>(url, lease_ttl);
}

} // namespace tally
