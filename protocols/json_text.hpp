#pragma once
// Hand-written JSON for responses: small fixed shapes rendered straight into
// one string, deterministically (a replayed idempotent response must be
// byte-identical) and without building a DOM per request.
#include <cstdint>
#include <string>
#include <string_view>

namespace tally {

/// Appends `text` as a JSON string literal (quotes, escapes). `text` must be
/// UTF-8; bytes >= 0x80 are copied as they are.
void append_json_string(std::string& out, std::string_view text);

/// Appends a JSON integer.
void append_json_int(std::string& out, int64_t value);

/// Appends `"name":` (name is trusted: a literal without escapes).
inline void append_json_key(std::string& out, std::string_view name) {
  out += '"';
  out += name;
  out += "\":";
}

} // namespace tally
