#pragma once
// The `Stripe-Signature` header of payment webhooks (API.md "Payment
// webhooks"): `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]`, where each
// v1 signs "<t>.<raw body>" with the webhook secret. Pure functions, no I/O:
// http/ checks the header before it parses the body, and a fuzz target can
// call parse_stripe_signature on any bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tally {

/// Longest header accepted; a real one is ~150 bytes (two v1 during a
/// secret rotation ~220). Bounds the parser's work on hostile input.
inline constexpr size_t stripe_signature_header_bytes_max = 1024;
/// Signatures (v1 entries) per header at most: one per active secret.
inline constexpr size_t stripe_signature_v1_max = 8;
/// Digits of `t` at most: unix seconds fit in 11 digits until year 5138.
inline constexpr size_t stripe_signature_timestamp_digits_max = 12;
/// Default |now - t| accepted, both directions (API.md: 300 s).
inline constexpr int64_t stripe_signature_tolerance_s_default = 300;

/// A well-formed header: its timestamp and every v1 signature, decoded
/// from hex to raw 32-byte digests.
struct stripe_signature {
  int64_t timestamp_s = 0;
  std::vector<std::string> v1_digests;
};

/// Parses the header. nullopt when it is malformed: empty, too long, an
/// element without `=`, an empty key or value, no `t` or more than one,
/// a `t` that is not decimal digits, no `v1`, a `v1` that is not exactly 64
/// hex digits, or too many `v1`. Other keys (`v0`, future schemes) are
/// ignored, as the provider documents. Never throws.
std::optional<stripe_signature> parse_stripe_signature(std::string_view header);

/// Why a delivery's signature was refused (or that it was not).
enum class signature_verdict : uint8_t {
  valid,      ///< a v1 matches and t is within the tolerance
  malformed,  ///< parse_stripe_signature refused the header
  stale,      ///< |now - t| exceeds the tolerance (either direction)
  mismatch,   ///< no v1 equals HMAC-SHA256(secret, "<t>.<body>")
};

/// Checks a delivery: parsed, then within `tolerance_s` of `now_s`, then
/// some v1 equal (constant time) to the expected digest.
signature_verdict verify_stripe_signature(std::string_view header, std::string_view raw_body,
                                          std::string_view secret, int64_t now_s,
                                          int64_t tolerance_s);

/// The lower-case hex v1 the provider would send for `raw_body` at `t`
/// (tests, and a header a tool can build).
std::string stripe_v1_signature(std::string_view secret, int64_t timestamp_s,
                                std::string_view raw_body);

/// The label of a verdict in metrics and logs.
std::string_view to_string(signature_verdict verdict);

} // namespace tally
