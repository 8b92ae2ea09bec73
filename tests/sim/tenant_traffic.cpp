#include "tests/sim/tenant_traffic.hpp"

#include <algorithm>
#include <utility>

#include "actors/registry.hpp"
#include "actors/tenant.hpp"
#include "actors/subdomain.hpp"

namespace tally::sim {

namespace {

/// One seed in this many has tenants.
constexpr uint64_t tenant_seed_one_in = 2;
/// Percent of steps with a crash chance that kill a tenant or subdomain actor.
constexpr uint64_t crash_percent = 30;
/// Reservation lifetimes a seed may pick: short ones lapse within a run.
constexpr int64_t reservation_ttl_ms_choices[] = {300, 2'000, 30'000};

uuid seeded(std::mt19937_64& rng) {
  uuid id{};
  for (size_t i = 0; i < 16; i += 8) {
    auto bits = rng();
    for (size_t j = 0; j < 8; ++j) id.data[i + j] = static_cast<uint8_t>(bits >> (8 * j));
  }
  id.data[6] = static_cast<uint8_t>((id.data[6] & 0x0f) | 0x40);
  id.data[8] = static_cast<uint8_t>((id.data[8] & 0x3f) | 0x80);
  return id;
}

bool one_of(error_code code, std::initializer_list<error_code> allowed) {
  return std::find(allowed.begin(), allowed.end(), code) != allowed.end();
}

/// Always acceptable: the store or a window refused, or the actor died.
bool transient(error_code code) {
  return one_of(code, {error_code::store_unavailable, error_code::overloaded});
}

/// A reply and its slot; a reply dropped with a killed actor's mailbox
/// answers 503, as the HTTP gateway's do (http/gateway_call.hpp).
template <class T>
std::pair<reply<T>, test::slot<T>> capture() {
  auto result = std::make_shared<std::optional<outcome<T>>>();
  reply<T> done{[result](outcome<T> value) { result->emplace(std::move(value)); },
                failure{error_code::store_unavailable, "dropped", 0}};
  return {std::move(done), result};
}

} // namespace

std::unique_ptr<tenant_traffic> tenant_traffic::for_seed(uint64_t seed, test::actor_fixture& fx,
                                                         const std::vector<uuid>& users) {
  if ((seed ^ 0x7e7a7e7aULL) % tenant_seed_one_in != 0) return nullptr;
  return std::make_unique<tenant_traffic>(seed, fx, users);
}

tenant_traffic::tenant_traffic(uint64_t seed, test::actor_fixture& fx, const std::vector<uuid>&)
  : rng_(seed ^ 0x7e4a47ULL), fx_(fx) {
  auto tenant_count = 2 + rng_() % 2;
  auto name_count = 1 + rng_() % 3;
  fx_.context.tenants.reservation_ttl =
    std::chrono::milliseconds(reservation_ttl_ms_choices[rng_() % 3]);
  for (size_t i = 0; i < name_count; ++i) names_.push_back("name-" + std::to_string(i));
  for (size_t i = 0; i < tenant_count; ++i) {
    tenants_.push_back(seeded(rng_));
    owners_.push_back(seeded(rng_));
    members_.push_back(seeded(rng_));
    tenant_row row{tenants_[i], "tenant " + std::to_string(i), owners_[i], {}, {}, 1, 1};
    fx_.db->add_tenant(row, {tenant_member_row{row.id, owners_[i], "owner", 1},
                             tenant_member_row{row.id, members_[i], "member", 1}});
  }
}

std::string tenant_traffic::describe() const {
  return std::to_string(tenants_.size()) + " tenants on " + std::to_string(names_.size())
         + " names, reservations live "
         + std::to_string(fx_.context.tenants.reservation_ttl.count()) + " ms";
}

void tenant_traffic::send_commands() {
  auto count = rng_() % 3;
  for (uint64_t i = 0; i < count; ++i) {
    auto roll = rng_() % 100;
    auto tenant = rng_() % tenants_.size();
    const auto& name = names_[rng_() % names_.size()];
    auto who_roll = rng_() % 10;
    auto who = who_roll < 7 ? asker::owner : who_roll < 9 ? asker::member : asker::stranger;
    if (roll < 45)
      send(op_kind::activate, who, tenant, name);
    else if (roll < 70)
      send(op_kind::deactivate, who, tenant, name);
    else if (roll < 85)
      send(op_kind::view, who, tenant, name);
    else
      send(op_kind::status, who, tenant, name);
  }
}

void tenant_traffic::send(op_kind what, asker who, size_t tenant, const std::string& name) {
  pending op{what, who, tenant, name, {}, {}};
  auto caller = who == asker::owner    ? owners_[tenant]
                : who == asker::member ? members_[tenant]
                                       : owners_[(tenant + 1) % tenants_.size()];
  auto [done, slot] = capture<tenant_view>();
  op.answered = slot;
  switch (what) {
    case op_kind::activate:
      dispatch(registry_, tenants_[tenant], activate_module_request{caller, "shop", name}, done);
      break;
    case op_kind::deactivate:
      dispatch(registry_, tenants_[tenant], deactivate_module_request{caller}, done);
      break;
    case op_kind::view:
      dispatch(registry_, tenants_[tenant], get_tenant_request{caller}, done);
      break;
    case op_kind::status: {
      auto [asked, status] = capture<subdomain_view>();
      op.status = status;
      dispatch(registry_, subdomain_key(name), subdomain_status_request{name}, asked);
      break;
    }
  }
  outstanding_.push_back(std::move(op));
}

bool tenant_traffic::maybe_crash(const std::function<void(const std::string&)>& trace) {
  if (rng_() % 100 >= crash_percent) return false;
  auto* registry = dynamic_cast<registry_actor::stateful_pointer<registry_state>>(
    caf::actor_cast<caf::abstract_actor*>(registry_));
  const auto& tenants = std::get<static_cast<size_t>(entity_kind::tenant)>(registry->state.tables);
  const auto& names = std::get<static_cast<size_t>(entity_kind::subdomain)>(registry->state.tables);
  // Between reserve and commit first: an activation in flight.
  std::vector<std::pair<uuid, entity_actor>> in_flight;
  std::vector<std::pair<uuid, entity_actor>> any;
  for (const auto& [id, entry] : tenants) {
    any.emplace_back(id, entry.handle);
    auto* actor = dynamic_cast<tenant_actor::stateful_pointer<tenant_state>>(
      caf::actor_cast<caf::abstract_actor*>(entry.handle));
    if (actor != nullptr && actor->state.activating) in_flight.emplace_back(id, entry.handle);
  }
  // A subdomain actor only without a reservation: a reservation lives in its
  // memory by design (tenant and subdomain actors of one process die
  // together), so losing it alone while the tenant commits is outside the
  // model; its holder, reloaded from the store, is not.
  for (const auto& [id, entry] : names) {
    auto* actor = dynamic_cast<subdomain_actor::stateful_pointer<subdomain_state>>(
      caf::actor_cast<caf::abstract_actor*>(entry.handle));
    if (actor != nullptr && actor->state.reserved_by.is_nil()) any.emplace_back(id, entry.handle);
  }
  auto& pool = !in_flight.empty() && rng_() % 4 != 0 ? in_flight : any;
  if (pool.empty()) return false;
  std::sort(pool.begin(), pool.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  auto victim = rng_() % pool.size();
  trace(std::string("fault: kill ") + (&pool == &in_flight ? "activating tenant " : "tenant/name ")
        + tally::to_string(pool[victim].first).substr(0, 8));
  caf::anon_send_exit(pool[victim].second, caf::exit_reason::kill);
  ++kills_;
  return true;
}

void tenant_traffic::fail(std::string why) {
  if (!violation_) violation_ = "tenants: " + std::move(why);
}

void tenant_traffic::judge(const pending& op) {
  auto tables = fx_.db->tenants();
  const auto& id = tenants_[op.tenant];
  if (op.what == op_kind::status) {
    const auto& answer = **op.status;
    if (!answer.ok()) {
      if (!transient(answer.error().code)) fail("status of " + op.name + ": " + to_string(answer.error().code));
      return;
    }
    // Memory may call a name taken that the store just freed, never the reverse.
    if (answer.value().available && !tables.holder_of(op.name).is_nil())
      fail(op.name + " reported available while the store holds it");
    return;
  }
  const auto& answer = **op.answered;
  auto code = answer.ok() ? error_code::none : answer.error().code;
  bool may_mutate = op.who == asker::owner;
  bool may_view = op.who != asker::stranger;
  bool allowed = op.what == op_kind::view ? may_view : may_mutate;
  if (!allowed) {
    if (code != error_code::forbidden && !transient(code))
      fail("a caller without the role was answered " + to_string(code));
    return;
  }
  if (code == error_code::forbidden) fail("a caller with the role was refused");
  if (code == error_code::tenant_not_found) fail("a seeded tenant was not found");
  switch (op.what) {
    case op_kind::activate:
      if (code == error_code::none) {
        ++activations_ok_;
        // Acknowledged after the commit: the store holds all three.
        const auto& row = tables.tenants.at(id);
        if (row.active_module != "shop" || row.subdomain != op.name
            || tables.holder_of(op.name) != id)
          fail("an acknowledged activation on " + op.name + " is not in the store");
      } else if (!transient(code)
                 && !one_of(code, {error_code::module_already_active, error_code::subdomain_taken})) {
        fail("activation answered " + to_string(code));
      }
      break;
    case op_kind::deactivate:
      if (code == error_code::none) {
        if (!tables.tenants.at(id).active_module.empty())
          fail("an acknowledged deactivation is not in the store");
      } else if (!transient(code) && code != error_code::invalid_state) {
        fail("deactivation answered " + to_string(code));
      }
      break;
    case op_kind::view:
      if (code != error_code::none && !transient(code)) fail("view answered " + to_string(code));
      break;
    case op_kind::status: break;
  }
}

void tenant_traffic::check_store(const tenant_tables& tables) {
  std::map<uuid, size_t> live;
  for (const auto& [sub_id, sub] : tables.subscriptions)
    if (sub.status != "cancelled") ++live[sub.tenant_id];
  std::map<uuid, std::string> held_by;
  for (const auto& [name, holder] : tables.subdomains) {
    if (!held_by.emplace(holder, name).second) return fail("a tenant holds two subdomains");
    auto tenant = tables.tenants.find(holder);
    if (tenant == tables.tenants.end() || tenant->second.active_module.empty()
        || tenant->second.subdomain != name)
      return fail("subdomain " + name + " held without its tenant's active module on it");
  }
  for (const auto& [id, row] : tables.tenants) {
    if (live[id] > 1) return fail("a tenant has two live subscriptions");
    bool active = !row.active_module.empty();
    if (active != !row.subdomain.empty())
      return fail("a module without a subdomain, or the reverse");
    if (active && (held_by[id] != row.subdomain || live[id] != 1))
      return fail("an active module without its held name and live trial (half an activation)");
    if (!active && (held_by.count(id) && !held_by[id].empty()))
      return fail("a tenant without a module holds a subdomain");
    if (!active && live[id] != 0) return fail("a tenant without a module has a live subscription");
  }
}

void tenant_traffic::after_step() {
  if (violation_) return;
  size_t kept = 0;
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    auto& op = outstanding_[i];
    bool delivered = op.what == op_kind::status ? op.status->has_value() : op.answered->has_value();
    if (delivered) {
      judge(op);
    } else {
      if (kept != i) outstanding_[kept] = std::move(op);
      ++kept;
    }
  }
  outstanding_.resize(kept);
  check_store(fx_.db->tenants());
}

std::string tenant_traffic::name_state(const std::string& name) {
  auto* registry = dynamic_cast<registry_actor::stateful_pointer<registry_state>>(
    caf::actor_cast<caf::abstract_actor*>(registry_));
  const auto& names = std::get<static_cast<size_t>(entity_kind::subdomain)>(registry->state.tables);
  auto found = std::find_if(names.begin(), names.end(),
                            [&](const auto& entry) { return entry.first == subdomain_key(name); });
  if (found == names.end()) return "no live actor";
  auto* actor = dynamic_cast<subdomain_actor::stateful_pointer<subdomain_state>>(
    caf::actor_cast<caf::abstract_actor*>(found->second.handle));
  if (actor == nullptr) return "?";
  const auto& st = actor->state;
  auto who = [this](const uuid& id) -> std::string {
    for (size_t i = 0; i < tenants_.size(); ++i)
      if (tenants_[i] == id) return "tenant " + std::to_string(i);
    return id.is_nil() ? "nobody" : "someone else";
  };
  return "memory: held by " + who(st.holder) + ", reserved by " + who(st.reserved_by)
         + (st.verifying ? ", verifying" : "");
}

void tenant_traffic::final_checks(const std::function<bool()>& quiesce) {
  // Let every reservation lapse and ask for every name twice: the first
  // round makes each name check its lapsed reservation with its tenant,
  // the second must then be exactly what the store holds (nothing stuck).
  fx_.sched.advance_time(fx_.context.tenants.reservation_ttl + std::chrono::seconds(1));
  for (int round = 0; round < 2; ++round) {
    std::vector<test::slot<subdomain_view>> answers;
    for (const auto& name : names_) {
      auto [asked, status] = capture<subdomain_view>();
      dispatch(registry_, subdomain_key(name), subdomain_status_request{name}, asked);
      answers.push_back(status);
    }
    if (!quiesce() || round == 0) continue;
    auto tables = fx_.db->tenants();
    for (size_t i = 0; i < names_.size(); ++i) {
      const auto& answer = *answers[i];
      if (!answer || !answer->ok()) return fail("after healing, no status for " + names_[i]);
      if (answer->value().available != tables.holder_of(names_[i]).is_nil())
        return fail("after healing, " + names_[i] + " reads "
                    + (answer->value().available ? "available" : "taken") + " but the store "
                    + (tables.holder_of(names_[i]).is_nil() ? "holds nothing" : "holds it")
                    + " (" + name_state(names_[i]) + ")");
    }
  }
}

} // namespace tally::sim
