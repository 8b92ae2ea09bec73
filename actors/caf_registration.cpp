// Definitions for protocols/caf_types.hpp (protocols/ itself links no CAF).
#include "protocols/caf_types.hpp"

#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "caf/message.hpp"

namespace tally {

namespace {

constexpr caf::atom_value error_category = caf::atom("tally");

} // namespace

void register_caf_types(caf::actor_system_config& config) {
  config.add_message_types<caf::id_block::tally>();
  config.add_error_category(error_category,
                            [](uint8_t code, caf::atom_value, const caf::message& context) {
                              auto text = "tally::" + to_string(static_cast<error_code>(code));
                              if (!context.empty()) text += caf::to_string(context);
                              return text;
                            });
}

error_code to_error_code(const caf::error& error, error_code fallback) {
  if (error && error.category() == error_category) return static_cast<error_code>(error.code());
  return fallback;
}

} // namespace tally
