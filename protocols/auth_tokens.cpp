#include "protocols/auth_tokens.hpp"

#include <algorithm>

#include <boost/uuid/name_generator_sha1.hpp>

#include "protocols/base64url.hpp"
#include "protocols/secrets.hpp"

namespace tally {

namespace {

/// Tally's UUIDv5 namespace for identities (a fixed random UUID: changing it
/// would re-key every identity).
const uuid identity_namespace = *parse_uuid("6f1d3c0e-4b1a-4d0c-9a59-3f2e7c1b8a64");

constexpr size_t id_bytes = 16;

uuid uuid_from(std::string_view bytes) {
  uuid id{};
  std::copy(bytes.begin(), bytes.begin() + id_bytes, id.begin());
  return id;
}

std::string_view bytes_of(const uuid& id) {
  return {reinterpret_cast<const char*>(id.data), id_bytes};
}

/// Decodes a token of exactly `ids` leading ids plus the random part.
std::optional<std::string> decode_token(std::string_view token, size_t ids) {
  auto bytes = base64url_decode(token);
  if (!bytes || bytes->size() != ids * id_bytes + token_random_bytes) return std::nullopt;
  return bytes;
}

} // namespace

uuid identity_id(identity_kind kind, std::string_view normalised_value) {
  boost::uuids::name_generator_sha1 generate(identity_namespace);
  std::string name = kind == identity_kind::email ? "email:" : "phone:";
  name.append(normalised_value);
  return generate(name);
}

std::string make_magic_token(const uuid& identity) {
  std::string bytes(bytes_of(identity));
  bytes += random_bytes(token_random_bytes);
  return base64url_encode(bytes);
}

std::optional<uuid> magic_token_identity(std::string_view token) {
  auto bytes = decode_token(token, 1);
  if (!bytes) return std::nullopt;
  return uuid_from(*bytes);
}

std::string make_refresh_token(const uuid& user, const uuid& session) {
  std::string bytes(bytes_of(user));
  bytes += bytes_of(session);
  bytes += random_bytes(token_random_bytes);
  return base64url_encode(bytes);
}

std::optional<refresh_route> refresh_token_route(std::string_view token) {
  auto bytes = decode_token(token, 2);
  if (!bytes) return std::nullopt;
  std::string_view view(*bytes);
  return refresh_route{uuid_from(view), uuid_from(view.substr(id_bytes))};
}

} // namespace tally
