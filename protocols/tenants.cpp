#include "protocols/tenants.hpp"

#include <boost/uuid/name_generator_sha1.hpp>

namespace tally {

namespace {

/// Tally's UUIDv5 namespace for subdomain names (a fixed random UUID:
/// changing it would re-key every subdomain actor).
const uuid subdomain_namespace = *parse_uuid("0b7c2f5e-9d41-4e8a-b3c6-5a1d2e9f7c40");

bool lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

} // namespace

uuid subdomain_key(std::string_view name) {
  boost::uuids::name_generator_sha1 generate(subdomain_namespace);
  return generate(std::string(name));
}

bool subdomain_syntax_ok(std::string_view name) {
  // ^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$: 3..63 characters, alphanumeric at
  // both ends, hyphens allowed inside.
  if (name.size() < 3 || name.size() > 63) return false;
  if (!lower_alnum(name.front()) || !lower_alnum(name.back())) return false;
  for (char c : name.substr(1, name.size() - 2))
    if (!lower_alnum(c) && c != '-') return false;
  return true;
}

} // namespace tally
