#include "protocols/stripe_signature.hpp"

#include "protocols/hex.hpp"
#include "protocols/secrets.hpp"

namespace tally {

namespace {

constexpr std::string_view timestamp_key = "t";
constexpr std::string_view v1_key = "v1";
/// Hex digits of one HMAC-SHA256.
constexpr size_t v1_hex_digits = 2 * sha256_bytes;

/// Raw bytes of an even-length hex string; nullopt for anything else.
std::optional<std::string> decode_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    int high = hex_digit_value(text[i]);
    int low = hex_digit_value(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  return bytes;
}

/// Decimal digits only (no sign, no space), bounded so it cannot overflow.
std::optional<int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > stripe_signature_timestamp_digits_max) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// What the provider signs: "<t>.<raw body>".
std::string signed_payload(int64_t timestamp_s, std::string_view raw_body) {
  auto payload = std::to_string(timestamp_s);
  payload += '.';
  payload.append(raw_body.data(), raw_body.size());
  return payload;
}

} // namespace

std::optional<stripe_signature> parse_stripe_signature(std::string_view header) {
  if (header.empty() || header.size() > stripe_signature_header_bytes_max) return std::nullopt;
  stripe_signature parsed;
  bool have_timestamp = false;
  size_t start = 0;
  while (start <= header.size()) {
    auto end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    auto element = header.substr(start, end - start);
    start = end + 1;
    auto equals = element.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == element.size())
      return std::nullopt;
    auto key = element.substr(0, equals);
    auto value = element.substr(equals + 1);
    if (key == timestamp_key) {
      if (have_timestamp) return std::nullopt;  // two clocks: which one was signed?
      auto timestamp = parse_timestamp(value);
      if (!timestamp) return std::nullopt;
      parsed.timestamp_s = *timestamp;
      have_timestamp = true;
    } else if (key == v1_key) {
      if (value.size() != v1_hex_digits) return std::nullopt;
      if (parsed.v1_digests.size() == stripe_signature_v1_max) return std::nullopt;
      auto digest = decode_hex(value);
      if (!digest) return std::nullopt;
      parsed.v1_digests.push_back(std::move(*digest));
    }
  }
  if (!have_timestamp || parsed.v1_digests.empty()) return std::nullopt;
  return parsed;
}

signature_verdict verify_stripe_signature(std::string_view header, std::string_view raw_body,
                                          std::string_view secret, int64_t now_s,
                                          int64_t tolerance_s) {
  auto parsed = parse_stripe_signature(header);
  if (!parsed) return signature_verdict::malformed;
  auto skew = now_s - parsed->timestamp_s;
  if (skew > tolerance_s || skew < -tolerance_s) return signature_verdict::stale;
  auto expected = hmac_sha256(secret, signed_payload(parsed->timestamp_s, raw_body));
  // Every candidate is compared (no early exit), each in constant time.
  bool matched = false;
  for (const auto& digest : parsed->v1_digests) matched |= constant_time_equal(digest, expected);
  return matched ? signature_verdict::valid : signature_verdict::mismatch;
}

std::string stripe_v1_signature(std::string_view secret, int64_t timestamp_s,
                                std::string_view raw_body) {
  return to_hex(hmac_sha256(secret, signed_payload(timestamp_s, raw_body)));
}

std::string_view to_string(signature_verdict verdict) {
  switch (verdict) {
    case signature_verdict::valid: return "valid";
    case signature_verdict::malformed: return "malformed";
    case signature_verdict::stale: return "stale";
    case signature_verdict::mismatch: return "mismatch";
  }
  return "unknown";
}

} // namespace tally
