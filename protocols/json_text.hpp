#pragma once
// The two leaves of hand-written JSON: a string literal and an integer.
// Builders use json_writer (json_writer.hpp), which places the commas and
// keys around these.
#include <cstdint>
#include <string>
#include <string_view>

namespace tally {

/// Appends `text` as a JSON string literal (quotes, escapes). `text` must be
/// UTF-8; bytes >= 0x80 are copied as they are.
void append_json_string(std::string& out, std::string_view text);

/// Appends a JSON integer.
void append_json_int(std::string& out, int64_t value);

} // namespace tally
