#include "tests/sim/invariant_checker.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <utility>

#include "actors/user.hpp"
#include "protocols/codec.hpp"

namespace tally::sim {

namespace {

/// The reply fallback of reply<T> when every copy died undelivered.
constexpr const char* dropped_detail = "request was dropped";

std::string text(const balance& bal) {
  return "{" + std::to_string(bal.available) + ", " + std::to_string(bal.reserved) + "}";
}

std::string short_id(const uuid& id) {
  return to_string(id).substr(0, 8);
}

/// The ledger effect a body must have produced.
struct expected_entry {
  ledger_type type;
  int64_t amount;
};

expected_entry expected_for(const op_body& body) {
  if (body.kind == op_kind::charge) return {ledger_type::charge, body.amount};
  if (body.amount > 0) return {ledger_type::grant, body.amount};
  return {ledger_type::debit, -body.amount};
}

} // namespace

std::string op_body::digest() const {
  return std::string(kind == op_kind::charge ? "charge|" : "credit|") + std::to_string(amount) + "|"
         + tag;
}

std::string describe(const failure& why) {
  return to_string(why.code) + " (" + why.detail + ")";
}

// -- set-up --------------------------------------------------------------------

void invariant_checker::add_user(const uuid& user, balance initial) {
  auto& shadow = users_[user];
  shadow.bal = initial;
  shadow.history.push_back(initial);
}

void invariant_checker::add_body(const op_body& body) {
  bodies_.emplace(body.digest(), body);
}

// -- helpers ---------------------------------------------------------------------

void invariant_checker::fail(std::string what) {
  if (!violation_) violation_ = std::move(what);
}

invariant_checker::shadow_user* invariant_checker::shadow_of(const uuid& user, const char* during) {
  auto found = users_.find(user);
  if (found != users_.end()) return &found->second;
  fail(std::string(during) + " names unknown user " + short_id(user));
  return nullptr;
}

invariant_checker::key_history& invariant_checker::history_of(const uuid& user,
                                                              const std::string& key) {
  return keys_[{user, key}];
}

const op_body* invariant_checker::body_of_digest(const std::string& digest) const {
  auto found = bodies_.find(digest);
  return found == bodies_.end() ? nullptr : &found->second;
}

// -- the store's side --------------------------------------------------------------

void invariant_checker::on_commit(const write_batch& batch) {
  if (violation_) return;
  // This batch's ledger entries by (user, reference); each must be claimed
  // by exactly one idempotency record of the same batch.
  struct fresh_entry {
    ledger_entry entry;
    bool claimed = false;
  };
  std::map<std::pair<uuid, std::string>, fresh_entry> fresh;
  std::set<uuid> users_with_entries;

  // Users created by a login start with nothing; their session writes carry
  // their (unchanged) balance, which is checked like any other.
  for (const auto& row : batch.new_users) {
    if (users_.count(row.id) > 0) return fail("a login created user " + short_id(row.id) + " twice");
    add_user(row.id, balance{});
  }

  for (const auto& row : batch.ledger) {
    auto* user = shadow_of(row.user_id, "a committed ledger row");
    if (!user) return;
    const auto& entry = row.entry;
    auto who = short_id(row.user_id);
    if (entry.seq != user->seq + 1)
      return fail("ledger of " + who + " skips or repeats a seq: " + std::to_string(entry.seq)
                  + " after " + std::to_string(user->seq));
    if (entry.amount <= 0)
      return fail("ledger entry of " + who + " has amount " + std::to_string(entry.amount));
    balance after = user->bal;
    switch (entry.type) {
      case ledger_type::grant:
      case ledger_type::topup: after.available += entry.amount; break;
      case ledger_type::debit:
      case ledger_type::charge: after.available -= entry.amount; break;
      default:
        return fail("ledger of " + who + " holds an entry type no command produces: "
                    + std::string(to_string(entry.type)));
    }
    balance stated{entry.available_after, entry.reserved_after};
    if (!(after == stated))
      return fail("ledger chain of " + who + " broken at seq " + std::to_string(entry.seq) + ": "
                  + text(user->bal) + " " + std::string(to_string(entry.type)) + " "
                  + std::to_string(entry.amount) + " should give " + text(after) + ", entry says "
                  + text(stated));
    if (after.available < 0 || after.reserved < 0)
      return fail("balance of " + who + " went negative: " + text(after));
    if (!user->references.insert(entry.reference).second)
      return fail("ledger reference '" + entry.reference + "' of " + who
                  + " committed twice (a command applied twice)");
    user->bal = after;
    user->seq = entry.seq;
    user->history.push_back(after);
    user->entries[entry.reference] = entry;
    fresh.emplace(std::make_pair(row.user_id, entry.reference), fresh_entry{entry, false});
    users_with_entries.insert(row.user_id);
    ++stats_.committed_entries;
  }

  for (const auto& record : batch.idempotency) {
    auto* user = shadow_of(record.user_id, "a committed idempotency record");
    if (!user) return;
    auto who = short_id(record.user_id);
    if (user->keys.count(record.key))
      return fail("idempotency key '" + record.key + "' of " + who
                  + " committed twice (a command applied twice)");
    const auto* body = body_of_digest(record.request_digest);
    if (!body) return fail("stored digest '" + record.request_digest + "' was never sent");
    const auto& sent = history_of(record.user_id, record.key).digests_sent;
    if (std::find(sent.begin(), sent.end(), record.request_digest) == sent.end())
      return fail("key '" + record.key + "' of " + who + " stored with a body never sent with it");
    std::string reference;
    balance answered;
    if (body->kind == op_kind::charge) {
      auto result = decode_charge_result(record.response);
      if (!result) return fail("stored charge response of key '" + record.key + "' unreadable");
      if (record.status != charge_status_created)
        return fail("stored charge status " + std::to_string(record.status));
      if (result->amount != body->amount)
        return fail("stored charge of key '" + record.key + "' has amount "
                    + std::to_string(result->amount) + ", body " + std::to_string(body->amount));
      reference = to_string(result->id);
      answered = {result->available, -1};
    } else {
      auto result = decode_credit_result(record.response);
      if (!result) return fail("stored credit response of key '" + record.key + "' unreadable");
      if (record.status != credit_status_ok)
        return fail("stored credit status " + std::to_string(record.status));
      reference = body->tag;
      answered = {result->available, result->reserved};
    }
    auto found = fresh.find({record.user_id, reference});
    if (found == fresh.end())
      return fail("key '" + record.key + "' of " + who
                  + " committed without its ledger entry in the same batch");
    if (found->second.claimed)
      return fail("two keys of " + who + " claim the ledger entry '" + reference + "'");
    found->second.claimed = true;
    const auto& entry = found->second.entry;
    auto expected = expected_for(*body);
    if (entry.type != expected.type || entry.amount != expected.amount)
      return fail("ledger entry of key '" + record.key + "' of " + who + " is "
                  + std::string(to_string(entry.type)) + " " + std::to_string(entry.amount)
                  + ", its body asked for " + std::string(to_string(expected.type)) + " "
                  + std::to_string(expected.amount));
    if (answered.available != entry.available_after
        || (answered.reserved >= 0 && answered.reserved != entry.reserved_after))
      return fail("stored response of key '" + record.key + "' of " + who
                  + " disagrees with its ledger entry");
    user->keys[record.key] = stored_key{record.request_digest, record.response};
  }

  for (const auto& [where, entry] : fresh)
    if (!entry.claimed)
      return fail("ledger entry '" + where.second + "' of " + short_id(where.first)
                  + " committed without an idempotency key (applied outside its key)");

  std::set<uuid> written;
  for (const auto& write : batch.balances) {
    auto* user = shadow_of(write.user_id, "a committed balance row");
    if (!user) return;
    if (!written.insert(write.user_id).second)
      return fail("one batch writes the balance of " + short_id(write.user_id) + " twice");
    if (!(write.bal == user->bal) || write.ledger_seq != user->seq)
      return fail("balance row of " + short_id(write.user_id) + " " + text(write.bal) + " seq "
                  + std::to_string(write.ledger_seq) + " disagrees with its ledger "
                  + text(user->bal) + " seq " + std::to_string(user->seq));
  }
  for (const auto& id : users_with_entries)
    if (!written.count(id))
      return fail("ledger entries of " + short_id(id) + " committed without a balance row");
}

// -- the clients' side -------------------------------------------------------------

bool invariant_checker::on_sent(const uuid& user, const std::string& key, const op_body& body) {
  history_of(user, key).digests_sent.push_back(body.digest());
  auto shadow = users_.find(user);
  return shadow != users_.end() && shadow->second.keys.count(key) > 0;
}

void invariant_checker::check_committed_key(const uuid& user, const std::string& key,
                                            const op_body& body, bool replayed,
                                            const failure* why) {
  const auto& stored = users_.at(user).keys.at(key);
  bool same_body = stored.digest == body.digest();
  std::string answer = why ? describe(*why) : (replayed ? "a replay" : "a fresh execution");
  if (!why) {
    if (!same_body || !replayed)
      fail("committed key '" + key + "' of " + short_id(user) + " answered " + answer + " to "
           + (same_body ? "its own body" : "another body"));
    return;
  }
  switch (why->code) {
    case error_code::idempotency_key_in_use:
    case error_code::store_unavailable:
    case error_code::internal: return;  // judged by check_error
    case error_code::idempotency_key_reused:
      if (same_body)
        fail("committed key '" + key + "' of " + short_id(user)
             + " called reused for its own body");
      return;
    default:
      fail("committed key '" + key + "' of " + short_id(user) + " answered " + answer
           + " instead of " + (same_body ? "its replay" : "IDEMPOTENCY_KEY_REUSED"));
  }
}

void invariant_checker::check_acknowledged(const simulated_database& db, const uuid& user,
                                           const std::string& key, const op_body& body,
                                           bool replayed, const std::string& response) {
  auto who = short_id(user);
  auto digest = body.digest();
  if (rules_.ack == ack_mode::commit) {
    auto stored = db.idempotency(user, key);
    if (!stored)
      return fail("acknowledged " + std::string(replayed ? "replay" : "mutation") + " of key '"
                  + key + "' of " + who + " is not in the store");
    if (stored->request_digest != digest || stored->response != response)
      return fail("acknowledged response of key '" + key + "' of " + who
                  + " differs from the stored one");
  }
  auto& history = history_of(user, key);
  if (replayed) {
    ++stats_.replays;
    if (history.acked_digest
        && (*history.acked_digest != digest || history.acked_response != response))
      return fail("replay of key '" + key + "' of " + who
                  + " differs from the response acknowledged first");
  } else {
    ++stats_.fresh_acks;
    if (history.acked_digest) {
      if (rules_.ack == ack_mode::commit || !rules_.acknowledged_loss_allowed)
        return fail("key '" + key + "' of " + who
                    + " executed (acknowledged fresh) twice: a command applied twice");
      // ack=memory may lose an acknowledged write; then, and only then, a
      // retry runs again. The earlier execution must really be gone.
      const auto& shadow = users_.at(user);
      auto earlier = shadow.keys.find(key);
      if (earlier != shadow.keys.end() && earlier->second.response == history.acked_response)
        return fail("key '" + key + "' of " + who
                    + " executed again although its first execution committed");
      ++stats_.lost_acks;
    }
  }
  history.acked_digest = digest;
  history.acked_response = response;
}

void invariant_checker::check_error(const uuid& user, const std::string& key, const op_body& body,
                                    const failure& why) {
  auto who = short_id(user);
  const auto& sent = history_of(user, key).digests_sent;
  auto digest = body.digest();
  switch (why.code) {
    case error_code::insufficient_credits:
      ++stats_.refused;
      if (body.kind == op_kind::credit && body.amount > 0)
        fail("a grant to " + who + " was refused as insufficient credits");
      return;
    case error_code::idempotency_key_reused:
      ++stats_.conflicts;
      if (std::none_of(sent.begin(), sent.end(), [&](const auto& d) { return d != digest; }))
        fail("key '" + key + "' of " + who + " called reused, but only one body was ever sent");
      return;
    case error_code::idempotency_key_in_use:
      // API.md: "same key while the first request is still in flight -> 409",
      // whatever the body; so it needs at least one other request with the key.
      ++stats_.conflicts;
      if (sent.size() < 2)
        fail("key '" + key + "' of " + who + " called in use, but it was sent once");
      return;
    case error_code::overloaded: ++stats_.overloaded; return;
    case error_code::store_unavailable:
      ++stats_.unavailable;
      if (!rules_.store_unavailable_allowed)
        fail("key '" + key + "' of " + who + " answered " + describe(why)
             + " although only transient faults were injected");
      return;
    case error_code::internal:
      ++stats_.dropped;
      if (!rules_.dropped_allowed || why.detail != dropped_detail)
        fail("key '" + key + "' of " + who + " answered " + describe(why));
      return;
    default: fail("key '" + key + "' of " + who + " answered " + describe(why));
  }
}

template <class Result>
bool invariant_checker::check_reply_start(const uuid& user, const std::string& key, const op_body& body,
                                          bool committed_when_sent,
                                          const outcome<mutation_reply<Result>>& answer) {
  if (violation_) return false;
  if (committed_when_sent)
    check_committed_key(user, key, body, answer.ok() && answer.value().replayed,
                        answer.ok() ? nullptr : &answer.error());
  if (violation_) return false;
  if (!answer.ok()) {
    check_error(user, key, body, answer.error());
    return false;
  }
  return true;
}

void invariant_checker::on_charge_reply(const simulated_database& db, const uuid& user,
                                        const std::string& key, const op_body& body,
                                        bool committed_when_sent,
                                        const outcome<mutation_reply<charge_result>>& answer) {
  if (!check_reply_start(user, key, body, committed_when_sent, answer)) return;
  const auto& reply = answer.value();
  if (reply.result.amount != body.amount)
    return fail("charge of key '" + key + "' answered amount " + std::to_string(reply.result.amount)
                + " for a body of " + std::to_string(body.amount));
  if (reply.result.available < 0)
    return fail("charge of key '" + key + "' answered a negative balance");
  if (rules_.ack == ack_mode::commit) {
    // The ledger entry of an acknowledged charge is committed, with the
    // balance the client was told.
    auto& shadow = users_.at(user);
    auto entry = shadow.entries.find(to_string(reply.result.id));
    if (entry == shadow.entries.end())
      return fail("acknowledged charge of key '" + key + "' has no committed ledger entry");
    if (entry->second.available_after != reply.result.available)
      return fail("acknowledged charge of key '" + key + "' answered available "
                  + std::to_string(reply.result.available) + ", its entry says "
                  + std::to_string(entry->second.available_after));
  }
  check_acknowledged(db, user, key, body, reply.replayed, encode(reply.result));
}

void invariant_checker::on_credit_reply(const simulated_database& db, const uuid& user,
                                        const std::string& key, const op_body& body,
                                        bool committed_when_sent,
                                        const outcome<mutation_reply<credit_result>>& answer) {
  if (!check_reply_start(user, key, body, committed_when_sent, answer)) return;
  const auto& reply = answer.value();
  if (reply.result.available < 0 || reply.result.reserved < 0)
    return fail("credit of key '" + key + "' answered a negative balance");
  if (rules_.ack == ack_mode::commit) {
    auto& shadow = users_.at(user);
    auto entry = shadow.entries.find(body.tag);
    if (entry == shadow.entries.end())
      return fail("acknowledged credit of key '" + key + "' has no committed ledger entry");
    if (entry->second.available_after != reply.result.available)
      return fail("acknowledged credit of key '" + key
                  + "' answered a balance its entry does not hold");
  }
  check_acknowledged(db, user, key, body, reply.replayed, encode(reply.result));
}

void invariant_checker::on_balance_reply(const uuid& user, const outcome<balance>& answer) {
  if (violation_) return;
  ++stats_.reads;
  auto who = short_id(user);
  if (!answer.ok()) {
    const auto& why = answer.error();
    bool allowed = (why.code == error_code::store_unavailable && rules_.store_unavailable_allowed)
                   || (why.code == error_code::internal && rules_.dropped_allowed
                       && why.detail == dropped_detail);
    if (!allowed) fail("balance read of " + who + " answered " + describe(why));
    return;
  }
  const auto& bal = answer.value();
  if (bal.available < 0 || bal.reserved < 0)
    return fail("balance read of " + who + " shows a negative balance " + text(bal));
  const auto& history = users_.at(user).history;
  if (std::find(history.begin(), history.end(), bal) == history.end())
    fail("balance read of " + who + " shows " + text(bal)
         + ", a state the store never committed (memory ran ahead of the store)");
}

void invariant_checker::on_ledger_reply(const uuid& user, const outcome<ledger_page>& answer) {
  if (violation_) return;
  ++stats_.reads;
  auto who = short_id(user);
  if (!answer.ok()) {
    const auto& why = answer.error();
    bool allowed = (why.code == error_code::store_unavailable && rules_.store_unavailable_allowed)
                   || (why.code == error_code::internal && rules_.dropped_allowed
                       && why.detail == dropped_detail);
    if (!allowed) fail("ledger read of " + who + " answered " + describe(why));
    return;
  }
  const auto& shadow = users_.at(user);
  int64_t previous_seq = 0;
  for (const auto& entry : answer.value().entries) {
    if (previous_seq != 0 && entry.seq >= previous_seq)
      return fail("ledger page of " + who + " is not newest first");
    previous_seq = entry.seq;
    auto committed = shadow.entries.find(entry.reference);
    if (committed == shadow.entries.end() || committed->second.seq != entry.seq
        || committed->second.amount != entry.amount
        || committed->second.available_after != entry.available_after)
      return fail("ledger page of " + who + " shows an entry the store never committed (seq "
                  + std::to_string(entry.seq) + ")");
  }
}

void invariant_checker::on_unknown_user_reply(error_code code, bool ok) {
  if (violation_) return;
  if (ok) return fail("a command for an unknown user succeeded");
  // A client's access token naming a user that does not exist: its session
  // cannot be live either.
  bool allowed = code == error_code::user_not_found || code == error_code::session_revoked
                 || (code == error_code::store_unavailable && rules_.store_unavailable_allowed)
                 || (code == error_code::internal && rules_.dropped_allowed);
  if (!allowed) fail("a command for an unknown user answered " + to_string(code));
}

// -- whole-state checks --------------------------------------------------------------

void invariant_checker::compare_with_store(const simulated_database& db, int64_t backlog_records) {
  if (violation_) return;
  if (backlog_records < 0)
    return fail("writer backlog went negative: " + std::to_string(backlog_records));
  for (const auto& [id, shadow] : users_) {
    auto stored = db.committed_balance(id);
    if (!stored || !(*stored == shadow.bal))
      return fail("store balance of " + short_id(id) + " is "
                  + (stored ? text(*stored) : std::string("missing")) + ", its ledger sums to "
                  + text(shadow.bal));
    auto seq = db.ledger_seq(id);
    if (seq != shadow.seq)
      return fail("store ledger head of " + short_id(id) + " is " + std::to_string(seq)
                  + ", the committed batches reached " + std::to_string(shadow.seq));
  }
}

void invariant_checker::final_checks(const simulated_database& db, int64_t backlog_records) {
  if (violation_) return;
  if (backlog_records != 0)
    return fail("writer backlog is " + std::to_string(backlog_records) + " after quiescence");
  for (const auto& [where, history] : keys_) {
    if (!history.acked_digest) continue;
    auto stored = db.idempotency(where.first, where.second);
    bool present = stored && stored->request_digest == *history.acked_digest
                   && stored->response == history.acked_response;
    if (present) continue;
    if (rules_.ack == ack_mode::memory && rules_.acknowledged_loss_allowed) {
      ++stats_.lost_acks;
      continue;
    }
    return fail("acknowledged mutation of key '" + where.second + "' of " + short_id(where.first)
                + " is missing from the store after quiescence");
  }
}

} // namespace tally::sim
