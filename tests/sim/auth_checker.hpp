#pragma once
// The simulation's oracle for logins and sessions (the credits oracle is
// invariant_checker). Fed with what simulated clients sent and were
// answered, and with the store double, it reports the first broken rule:
//
//   one user per identity   every successful login of an identity names the
//                           same user, and the store holds at most one user
//                           with that email;
//   single use              a magic link logs in at most once;
//   durable ack             a granted session, an acknowledged logout and a
//                           detected reuse are in the store when answered;
//   revocation is final     once a logout or a reuse detection was
//                           acknowledged, no command sent later with that
//                           session succeeds (not even after a reload);
//   no false revocation     a session nobody logged out or refreshed is
//                           never refused as revoked;
//   unknown costs nothing   a magic link of an identity never requested is
//                           refused (INVALID_TOKEN) without an identity
//                           actor, and the store never gets its row.
//
// No CAF in here: a plain object.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "protocols/auth.hpp"
#include "protocols/outcome.hpp"
#include "tests/sim/invariant_checker.hpp"
#include "tests/sim/simulated_store.hpp"

namespace tally::sim {

class auth_checker {
public:
  explicit auth_checker(checker_rules rules) : rules_(rules) {}

  /// An email that can log in; returns its index.
  size_t add_identity(const std::string& email);

  /// A verify of `token` of identity `identity` was answered. Returns the
  /// index of the new session when it succeeded.
  std::optional<size_t> on_verify_reply(const simulated_database& db, size_t identity,
                                        const std::string& token,
                                        const outcome<session_grant>& answer);

  /// A command naming session `session` is sent at logical time `now`
  /// (the simulation's step). Logouts and refreshes may revoke it.
  void on_sent(size_t session, bool may_revoke);

  /// A balance read with the session, sent at `sent_at`.
  void on_session_read_reply(size_t session, size_t sent_at, const outcome<balance>& answer);
  void on_logout_reply(const simulated_database& db, size_t session, size_t sent_at, size_t now,
                       const outcome<bool>& answer);
  /// A refresh of the session; on success the grant's token is the new current one.
  void on_refresh_reply(const simulated_database& db, size_t session, size_t sent_at, size_t now,
                        const outcome<session_grant>& answer);
  /// A link or code request.
  void on_challenge_reply(const outcome<login_challenge>& answer);

  /// A verify of a token of identity `id`, which was never requested, was
  /// answered; `actor_live` says whether the registry has an actor for it.
  void on_unknown_verify_reply(const uuid& id, bool actor_live, const outcome<session_grant>& answer);

  /// After quiescence: at most one user per identity in the store, and no
  /// row for an identity that was never requested.
  void final_checks(const simulated_database& db);

  const std::optional<std::string>& violation() const { return violation_; }
  bool ok() const { return !violation_; }

  struct counters {
    size_t logins = 0;
    size_t refreshes = 0;
    size_t logouts = 0;
    size_t reuses = 0;
    size_t refused_revoked = 0;
    size_t unknown_refused = 0;
  };
  const counters& stats() const { return stats_; }

  /// The session's user (for sending commands).
  const uuid& user_of(size_t session) const { return sessions_.at(session).user; }
  const uuid& id_of(size_t session) const { return sessions_.at(session).id; }
  size_t session_count() const { return sessions_.size(); }

private:
  struct identity_shadow {
    std::string email;
    uuid user{};  ///< nil until the first successful login
    std::set<std::string> used_tokens;
  };
  struct session_shadow {
    uuid user{};
    uuid id{};
    /// A logout or refresh was sent for it: a revocation may come.
    bool may_be_revoked = false;
    /// Logical time at which a revocation was acknowledged (nullopt: none).
    std::optional<size_t> revoked_at;
  };

  void fail(std::string what);
  /// Errors any auth command may get under the seed's faults.
  bool tolerated(const failure& why) const;
  void check_revocation(size_t session, size_t sent_at, bool succeeded, const char* what);

  checker_rules rules_;
  std::optional<std::string> violation_;
  std::vector<identity_shadow> identities_;
  std::vector<session_shadow> sessions_;
  /// Identities only ever presented with made-up tokens.
  std::set<uuid> unknown_;
  counters stats_;
};

} // namespace tally::sim
