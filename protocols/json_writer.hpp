#pragma once
// The one writer for the JSON Tally renders by hand: response bodies, JWT
// payloads and log lines. It places the commas and colons and escapes every
// string (through json_text), so a builder only says what goes where, in
// order. Output depends only on the calls (a replayed idempotent response
// must be byte-identical). It appends to a string the caller owns: no DOM,
// no allocation of its own, which matters because POST /v1/me/charges
// renders its body here.
//
//   std::string out;
//   json_writer json(out);
//   json.begin_object();
//   json.key("id").string(id);
//   json.key("tags").begin_array().string("a").string("b").end_array();
//   json.end_object();          // {"id":"...","tags":["a","b"]}
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/json_text.hpp"
#include "protocols/rfc3339.hpp"

namespace tally {

/// Writes JSON tokens into a caller's string in call order. A comma goes
/// before every value or key that follows another one at the same level;
/// one flag is enough for that because opening a container and writing a key
/// both clear it and finishing any value sets it. The caller keeps the shape
/// well-formed (keys only inside objects, each followed by one value).
class json_writer {
public:
  explicit json_writer(std::string& out) : out_(out) {}

  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  /// `"name":`, escaped like any string; the next call writes its value.
  json_writer& key(std::string_view name) {
    separate();
    append_json_string(out_, name);
    out_ += ':';
    comma_needed_ = false;
    return *this;
  }

  json_writer& string(std::string_view text) {
    separate();
    append_json_string(out_, text);
    comma_needed_ = true;
    return *this;
  }

  /// A string, or null when `text` is empty (API.md: absent email/phone).
  json_writer& string_or_null(std::string_view text) {
    return text.empty() ? null() : string(text);
  }

  json_writer& integer(int64_t value) {
    separate();
    append_json_int(out_, value);
    comma_needed_ = true;
    return *this;
  }

  json_writer& boolean(bool value) {
    separate();
    out_ += value ? "true" : "false";
    comma_needed_ = true;
    return *this;
  }

  json_writer& null() {
    separate();
    out_ += "null";
    comma_needed_ = true;
    return *this;
  }

  /// A number with exactly `decimals` digits after the point (printf "%.*f");
  /// null when it is not finite, which JSON cannot spell.
  json_writer& fixed(double value, int decimals);

  /// A timestamp as an RFC 3339 string ("2026-11-23T18:00:00Z").
  json_writer& timestamp(timestamp_us at, rfc3339_fraction fraction = rfc3339_fraction::shortest) {
    separate();
    out_ += '"';
    append_rfc3339(out_, at, fraction);
    out_ += '"';
    comma_needed_ = true;
    return *this;
  }

  /// A value that is already JSON text (a stored params object), as is.
  json_writer& raw(std::string_view json_text) {
    separate();
    out_ += json_text;
    comma_needed_ = true;
    return *this;
  }

private:
  void separate() {
    if (comma_needed_) out_ += ',';
  }

  json_writer& open(char bracket) {
    separate();
    out_ += bracket;
    comma_needed_ = false;
    return *this;
  }

  json_writer& close(char bracket) {
    out_ += bracket;
    comma_needed_ = true;
    return *this;
  }

  std::string& out_;
  /// Whether the last token finished a value at the current level.
  bool comma_needed_ = false;
};

} // namespace tally
