#include "actors/registry_arrivals.hpp"

#include <utility>

#include "caf/send.hpp"

namespace tally {

void registry_arrivals::serve(envelope message, completion done) {
  caf::anon_send(registry_, local_only_atom_v, message.key, std::move(message.command), std::move(done));
}

} // namespace tally
