#pragma once
// protocols/arriving_commands.hpp over the registry: a command from another
// node goes to the registry as (local_only_atom, key, command, completion),
// which serves it or refuses it with not_shard_owner, never forwarding it.
#include "protocols/arriving_commands.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

class registry_arrivals final : public arriving_commands {
public:
  explicit registry_arrivals(registry_actor registry) : registry_(std::move(registry)) {}

  /// Never blocks (an anon_send). Once the registry is gone the message is
  /// dropped and the completion's fallback answers.
  void serve(envelope message, completion done) override;

private:
  registry_actor registry_;
};

} // namespace tally
