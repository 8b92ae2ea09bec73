// The user actor's generations (see user_generations.hpp).
#include "actors/user_generations.hpp"

#include <algorithm>
#include <utility>

#include "caf/all.hpp"

#include "actors/dispatch.hpp"
#include "actors/generation_decisions.hpp"
#include "actors/lifecycle.hpp"
#include "protocols/generation_metrics.hpp"
#include "protocols/invariant.hpp"
#include "protocols/log.hpp"

namespace tally::user_detail {

namespace {

/// Errors a failed generation carries (API.md shows `"error": "interrupted"`).
constexpr const char* error_interrupted = "interrupted";
constexpr const char* error_timeout = "timeout";
constexpr const char* error_no_provider = "provider_unavailable";

timestamp_us now_of(const user_state& st) {
  return st.context->clock();
}

generation_metrics* stats_of(const user_state& st) {
  return st.context->generation_stats;
}

active_generation* find_active(user_state& st, const uuid& id) {
  for (auto& active : st.generations)
    if (active.row.id == id) return &active;
  return nullptr;
}

void log_generation(log_level level, const char* message, const user_state& st, const generation_row& row,
                    std::string_view detail = {}) {
  if (!log_enabled(level)) return;
  auto user = to_string(st.id);
  auto id = to_string(row.id);
  log_event(level, message,
            {{"user_id", std::string_view(user)},
             {"generation_id", std::string_view(id)},
             {"status", to_string(row.status)},
             {"detail", detail}});
}

/// The user's balance as a write: every generation write carries it, so it
/// is fenced by the owner epoch like every other write of this user.
balance_write balance_record(const user_state& st, timestamp_us now) {
  return balance_write{st.id, st.epoch, st.speculative, st.ledger_seq, now};
}

/// Ends the reservation of the active generation `id` with `status`
/// (completed: capture; failed, cancelled: release), in one write. `done`
/// (if valid) is answered with the row once committed.
void end_generation(user_pointer self, const uuid& id, generation_status status, std::string error,
                    std::string result_url, generation_reply done = {}) {
  auto& st = self->state;
  auto at = std::find_if(st.generations.begin(), st.generations.end(),
                         [&](const active_generation& active) { return active.row.id == id; });
  TALLY_INVARIANT(at != st.generations.end(), "only an active generation ends", to_string(st.id));
  auto ending = std::move(*at);
  st.generations.erase(at);
  if (!ending.submitted && st.context->provider != nullptr) st.context->provider->give_back(ending.admission);

  auto now = now_of(st);
  auto& row = ending.row;
  row.status = status;
  row.error = std::move(error);
  row.result_url = std::move(result_url);
  row.updated_at = now;
  auto change = settle(st.speculative, status, row.price);
  TALLY_INVARIANT(change.has_value(), "a terminal status settles the reservation", to_string(row.id));
  st.speculative = change->after;
  ++st.ledger_seq;
  check_reservations(st);

  write_batch records;
  records.ledger.push_back(
    ledger_write{st.id, make_ledger_entry(*change, random_uuid(), st.ledger_seq, to_string(row.id), now), {}});
  records.balances.push_back(balance_record(st, now));
  records.generations.push_back(row);
  if (auto* stats = stats_of(st)) {
    stats->entered(status);
    stats->active.Decrement();
    stats->reserved_credits.Decrement(static_cast<double>(row.price));
  }
  log_generation(status == generation_status::failed ? log_level::warn : log_level::info, "generation ended", st,
                 row, row.error);
  uncommitted_write pending;
  if (done.valid()) pending.waiting = uncommitted_write::generation_waiting{std::move(done), row};
  submit_write(self, std::move(records), std::move(pending));
}

} // namespace

void check_reservations(const user_state& st) {
  int64_t held = 0;
  for (const auto& active : st.generations) held += active.row.price;
  TALLY_INVARIANT(st.speculative.reserved == held, "reserved == sum of active generations' prices",
                  to_string(st.id));
}

outcome<accepted_change> decide_generation(user_pointer self, const generation_command& command) {
  auto& st = self->state;
  const auto& config = st.context->generations;
  auto now = now_of(st);
  auto verdict = decide_create(st.speculative, static_cast<int>(st.generations.size()), st.generation_rate_tat, now,
                               command.price, config);
  if (!verdict) return verdict.error();
  auto* provider = st.context->provider;
  provider_admission admission{provider != nullptr, false, 1};
  if (provider != nullptr) admission = provider->admit();
  if (!admission.allowed)
    return failure{error_code::provider_unavailable, "the generation provider is unavailable; retry later",
                   std::max(admission.retry_after_s, 1)};
  st.generation_rate_tat = verdict.value().rate_tat;
  st.admitting = admission;
  return verdict.value().reservation;
}

generation_created created_result(user_pointer self, const generation_command& command,
                                  const accepted_change& change, const uuid& id, timestamp_us now) {
  auto& st = self->state;
  return {id,  command.model_id, command.price, now, now + micros(st.context->generations.timeout),
          change.after.available, change.after.reserved};
}

void add_created_generation(user_pointer self, const generation_command& command, const uuid& id,
                            timestamp_us now, write_batch& records, uncommitted_write& pending) {
  auto& st = self->state;
  generation_row row;
  row.id = id;
  row.user_id = st.id;
  row.model_id = command.model_id;
  row.price = command.price;
  row.prompt = command.prompt;
  row.params_json = command.params_json;
  row.status = generation_status::pending;
  row.idempotency_key = command.idem.key;
  row.created_at = now;
  row.updated_at = now;
  row.timeout_at = now + micros(st.context->generations.timeout);
  records.generations.push_back(row);
  st.generations.push_back(active_generation{std::move(row), st.admitting, false});
  st.admitting = {};
  check_reservations(st);
  pending.submit_generation = id;
  if (auto* stats = stats_of(st)) {
    stats->entered(generation_status::pending);
    stats->active.Increment();
    stats->reserved_credits.Increment(static_cast<double>(command.price));
  }
  log_generation(log_level::info, "generation created", st, st.generations.back().row);
}

void submit_generation(user_pointer self, const uuid& generation) {
  auto& st = self->state;
  auto* active = find_active(st, generation);
  if (active == nullptr || active->submitted) return;  // cancelled before its commit
  auto next = next_status(active->row.status, generation_event::submitted);
  if (!next) return;
  auto* provider = st.context->provider;
  if (provider == nullptr) {
    end_generation(self, generation, generation_status::failed, error_no_provider, {});
    return;
  }
  auto now = now_of(st);
  active->submitted = true;
  active->row.status = *next;
  active->row.updated_at = now;
  write_batch records;
  records.balances.push_back(balance_record(st, now));
  records.generations.push_back(active->row);
  submit_write(self, std::move(records), uncommitted_write{});
  if (auto* stats = stats_of(st)) stats->entered(*next);
  generation_job job{active->row.id, st.id, active->row.model_id, active->row.prompt, active->row.params_json};
  // The answer comes back as a command through the registry, on any thread.
  provider->submit(std::move(job), active->admission,
                   [registry = st.registry, user = st.id, generation](provider_answer answer,
                                                                       std::chrono::microseconds) {
                     dispatch(registry, user, generation_answer_request{generation, std::move(answer)},
                              reply<bool>{[](outcome<bool>) {}});
                   });
  log_generation(log_level::info, "generation submitted", st, active->row);
}

void interrupt_leftovers(user_pointer self, std::vector<generation_row>& leftovers) {
  auto& st = self->state;
  for (auto& row : leftovers) {
    st.generations.push_back(active_generation{std::move(row), {}, true});
    if (auto* stats = stats_of(st)) {
      stats->active.Increment();
      stats->reserved_credits.Increment(static_cast<double>(st.generations.back().row.price));
    }
  }
  // The store's own invariant, as loaded: every reserved credit is an active generation's.
  check_reservations(st);
  while (!st.generations.empty())
    end_generation(self, st.generations.front().row.id, generation_status::failed, error_interrupted, {});
}

void drop_generations(user_pointer self) {
  auto& st = self->state;
  for (auto& active : st.generations) {
    if (!active.submitted && st.context->provider != nullptr) st.context->provider->give_back(active.admission);
    if (auto* stats = stats_of(st)) {
      stats->active.Decrement();
      stats->reserved_credits.Decrement(static_cast<double>(active.row.price));
    }
  }
  st.generations.clear();
}

void get_generation(user_pointer self, const get_generation_request& command, generation_reply done) {
  with_session(
    self, command.session,
    [self, id = command.generation, done](session_entry&) mutable {
      auto& st = self->state;
      self->send(st.reader, generation_atom_v, st.id, id, completion{std::move(done)});
    },
    fail_to(done));
}

void list_generations(user_pointer self, const list_generations_request& command, generation_page_reply done) {
  with_session(
    self, command.session,
    [self, query = command.query, done](session_entry&) mutable {
      auto& st = self->state;
      self->send(st.reader, generations_atom_v, st.id, std::move(query), completion{std::move(done)});
    },
    fail_to(done));
}

void cancel_generation(user_pointer self, const cancel_generation_request& command, generation_reply done) {
  with_session(
    self, command.session,
    [self, id = command.generation, done](session_entry&) mutable {
      auto& st = self->state;
      if (find_active(st, id) == nullptr) {
        // Not active here, so finished or not the caller's: the store says which.
        generation_reply verdict{[done](outcome<generation_row> found) {
          if (found) {
            done(failure{error_code::invalid_state,
                         "the generation is already " + std::string(to_string(found.value().status)), 0});
          } else {
            done(found.error());
          }
        }};
        self->send(st.reader, generation_atom_v, st.id, id, completion{std::move(verdict)});
        return;
      }
      if (auto refused = refuse_write(st)) {
        done(*refused);
        return;
      }
      end_generation(self, id, generation_status::cancelled, {}, {}, std::move(done));
    },
    fail_to(done));
}

void answer_generation(user_pointer self, const generation_answer_request& command, logout_reply done) {
  auto& st = self->state;
  auto* active = find_active(st, command.generation);
  if (active == nullptr || !active->submitted) {
    // Cancelled, timed out or interrupted meanwhile: the answer changes nothing.
    if (log_enabled(log_level::info)) {
      auto user = to_string(st.id);
      auto id = to_string(command.generation);
      log_event(log_level::info, "late provider answer ignored",
                {{"user_id", std::string_view(user)},
                 {"generation_id", std::string_view(id)},
                 {"ok", command.answer.ok}});
    }
    done(false);
    return;
  }
  const auto& answer = command.answer;
  auto event = answer.ok ? generation_event::completed : generation_event::failed;
  auto next = next_status(active->row.status, event);
  if (!next) {
    done(false);
    return;
  }
  end_generation(self, command.generation, *next, answer.ok ? std::string{} : answer.error,
                 answer.ok ? answer.result_url : std::string{});
  done(true);
}

void expire_generations(user_pointer self, logout_reply done) {
  auto& st = self->state;
  auto now = now_of(st);
  std::vector<uuid> due;
  for (const auto& active : st.generations)
    if (active.row.timeout_at <= now) due.push_back(active.row.id);
  for (const auto& id : due) end_generation(self, id, generation_status::failed, error_timeout, {});
  if (st.writes.empty()) {
    done(true);
    return;
  }
  // Answer once everything before it committed (writes commit in token
  // order): start-up recovery waits for the releases, not just their apply.
  write_batch records;
  records.balances.push_back(balance_record(st, now));
  uncommitted_write pending;
  pending.waiting = uncommitted_write::session_waiting{[done] { done(true); },
                                                       [done](const failure& why) { done(why); }};
  submit_write(self, std::move(records), std::move(pending));
}

} // namespace tally::user_detail
