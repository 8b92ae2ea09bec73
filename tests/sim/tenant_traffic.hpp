#pragma once
// Tenants and subdomains in the seeded simulation (tests/sim/README.md):
// in the seeds that have them, a few tenants (seeded in the store with an
// owner and a member) race to activate modules on a few shared names,
// deactivate, read, and ask for names, from owners, members and
// strangers; tenant and subdomain actors are killed, preferably between
// reserve and commit. After every step the store must hold:
//   - at most one module per tenant (one live subscription),
//   - at most one tenant per subdomain (and one subdomain per tenant),
//   - no held subdomain without its tenant's active module on that name,
//     and no active module without its held name and live trial;
// and every answer must be one the caller's role and the store allow: a
// 200 activation is in the store when it is answered, a name reported
// available is not held, a member or stranger never gets past the access
// decision. At the end (healed, quiet) every name's availability equals
// the store's. Its own generator: seeds without tenants run as before.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/actors/actor_fixture.hpp"

namespace tally::sim {

class tenant_traffic {
public:
  /// Tenants for this seed (one seed in two), or null; seeds them in the
  /// fixture's store and sets the reservation lifetime in its context.
  static std::unique_ptr<tenant_traffic> for_seed(uint64_t seed, test::actor_fixture& fx,
                                                  const std::vector<uuid>& users);

  tenant_traffic(uint64_t seed, test::actor_fixture& fx, const std::vector<uuid>& users);

  /// The registry commands go through (spawned after the world is built).
  void use_registry(registry_actor registry) { registry_ = std::move(registry); }
  /// 0..2 tenant commands.
  void send_commands();
  /// Sometimes kills a tenant actor (preferably one between reserve and
  /// commit) or a subdomain actor; true if it did.
  bool maybe_crash(const std::function<void(const std::string&)>& trace);
  /// Judges delivered answers and the store after a step.
  void after_step();
  /// Healed and quiet: every name's availability equals the store's.
  void final_checks(const std::function<bool()>& quiesce);

  bool waiting() const { return !outstanding_.empty(); }
  const std::optional<std::string>& violation() const { return violation_; }
  /// For the seed's world line.
  std::string describe() const;

private:
  enum class op_kind : uint8_t { activate, deactivate, view, status };
  /// Who asks: the tenant's owner, its member, or a user of another tenant.
  enum class asker : uint8_t { owner, member, stranger };
  struct pending {
    op_kind what = op_kind::view;
    asker who = asker::owner;
    size_t tenant = 0;
    std::string name;
    test::slot<tenant_view> answered;
    test::slot<subdomain_view> status;
  };

  void send(op_kind what, asker who, size_t tenant, const std::string& name);
  void judge(const pending& op);
  void check_store(const tenant_tables& tables);
  void fail(std::string why);
  /// The live subdomain actor's view of `name`, for a violation's message.
  std::string name_state(const std::string& name);

  std::mt19937_64 rng_;
  test::actor_fixture& fx_;
  registry_actor registry_;
  std::vector<uuid> tenants_;
  std::vector<uuid> owners_;
  std::vector<uuid> members_;
  std::vector<std::string> names_;
  std::vector<pending> outstanding_;
  std::optional<std::string> violation_;
  size_t kills_ = 0;
  size_t activations_ok_ = 0;
};

} // namespace tally::sim
