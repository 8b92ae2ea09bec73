#include "http/cors.hpp"

#include <algorithm>

namespace tally {

cors_policy::cors_policy(std::vector<std::string> origins) : origins_(std::move(origins)) {
  // A configured "*" or empty entry would open the API to every site with
  // credentials; exact origins only.
  origins_.erase(std::remove_if(origins_.begin(), origins_.end(),
                                [](const std::string& o) { return o.empty() || o == "*"; }),
                 origins_.end());
}

bool cors_policy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  return std::any_of(origins_.begin(), origins_.end(),
                     [&](const std::string& allowed) { return allowed == origin; });
}

} // namespace tally
