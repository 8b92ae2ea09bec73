#include "http/json_body.hpp"

#include "http/field_value.hpp"

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace tally {

namespace {

/// Walks a body that failed to parse and tells whether it stopped at a
/// number no double can hold (nlohmann's error 406) and where that number
/// is. Builds nothing.
class number_locator : public nlohmann::json_sax<json> {
public:
  bool null() override { return value_done(); }
  bool boolean(bool) override { return value_done(); }
  bool number_integer(number_integer_t) override { return value_done(); }
  bool number_unsigned(number_unsigned_t) override { return value_done(); }
  bool number_float(number_float_t, const string_t&) override { return value_done(); }
  bool string(string_t&) override { return value_done(); }
  bool binary(binary_t&) override { return value_done(); }
  bool start_object(std::size_t) override {
    frames_.push_back({false, {}, 0});
    return true;
  }
  bool key(string_t& name) override {
    frames_.back().key = name;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return value_done();
  }
  bool start_array(std::size_t) override {
    frames_.push_back({true, {}, 0});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return value_done();
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& error) override {
    constexpr int number_overflow_id = 406;
    out_of_range_ = error.id == number_overflow_id;
    return false;
  }

  bool out_of_range() const { return out_of_range_; }

  /// `a.b[2]` for the value being read when the parse stopped.
  std::string field() const {
    std::string path;
    for (const auto& frame : frames_) {
      if (frame.is_array) {
        path += "[" + std::to_string(frame.index) + "]";
      } else {
        if (!path.empty()) path += '.';
        path += frame.key;
      }
    }
    return path.empty() ? "body" : path;
  }

private:
  struct frame {
    bool is_array;
    std::string key;    ///< objects: the key whose value is being read
    std::size_t index;  ///< arrays: the element being read
  };

  bool value_done() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
    return true;
  }

  std::vector<frame> frames_;
  bool out_of_range_ = false;
};

/// Builds the document as nlohmann's own parser does, one SAX event at a
/// time, and stops at a key its object already holds: `{"amount":1,
/// "amount":1000000}` is ambiguous, and a parser that keeps the last (or the
/// first) would decide for the client. The check is the object's own map
/// lookup, so a body costs no more than json::parse.
class document_builder : public nlohmann::json_sax<json> {
public:
  explicit document_builder(json& root) : root_(root) {}

  bool null() override { return place(json(nullptr)); }
  bool boolean(bool value) override { return place(json(value)); }
  bool number_integer(number_integer_t value) override { return place(json(value)); }
  bool number_unsigned(number_unsigned_t value) override { return place(json(value)); }
  bool number_float(number_float_t value, const string_t&) override { return place(json(value)); }
  bool string(string_t& value) override { return place(json(std::move(value))); }
  bool binary(binary_t& value) override { return place(json::binary(std::move(value))); }
  bool start_object(std::size_t) override {
    open_.push_back(&insert(json(json::value_t::object)));
    return true;
  }
  bool key(string_t& name) override {
    auto& members = open_.back()->get_ref<json::object_t&>();
    auto [slot, inserted] = members.try_emplace(name);
    if (!inserted) {
      duplicate_ = name;
      return false;  // stops the parse
    }
    member_ = &slot->second;
    return true;
  }
  bool end_object() override {
    open_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    open_.push_back(&insert(json(json::value_t::array)));
    return true;
  }
  bool end_array() override {
    open_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  /// The repeated key, if that is why the parse stopped.
  const std::optional<std::string>& duplicate_key() const { return duplicate_; }

private:
  bool place(json value) {
    insert(std::move(value));
    return true;
  }

  /// Puts a value where the document expects the next one. The containers
  /// still open stay where they are: an array grows only at its end, after
  /// its last element (the innermost open one) has closed, and map nodes
  /// never move.
  json& insert(json value) {
    if (open_.empty()) {
      root_ = std::move(value);
      return root_;
    }
    auto& parent = *open_.back();
    if (parent.is_array()) {
      auto& elements = parent.get_ref<json::array_t&>();
      elements.push_back(std::move(value));
      return elements.back();
    }
    *member_ = std::move(value);
    return *member_;
  }

  json& root_;
  std::vector<json*> open_;
  json* member_ = nullptr;
  std::optional<std::string> duplicate_;
};

} // namespace

bool is_json_content_type(std::string_view content_type) {
  constexpr std::string_view expected = "application/json";
  auto media_type = trim_ows(content_type.substr(0, content_type.find(';')));
  return ascii_iequals(media_type, expected);
}

parsed_json parse_json(std::string_view body) {
  parsed_json result;
  document_builder builder{result.value};
  bool parsed = json::sax_parse(body.begin(), body.end(), &builder, json::input_format_t::json,
                                /*strict=*/true);
  if (parsed) return result;
  result.value = json::value_t::discarded;
  if (builder.duplicate_key()) {
    result.error = json_body_error::duplicate_key;
    result.field = *builder.duplicate_key();
    return result;
  }
  number_locator locator;
  json::sax_parse(body.begin(), body.end(), &locator, json::input_format_t::json,
                  /*strict=*/true);
  if (locator.out_of_range()) {
    result.error = json_body_error::number_out_of_range;
    result.field = locator.field();
  } else {
    result.error = json_body_error::malformed;
  }
  return result;
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++count;
  return count;
}

std::optional<int64_t> field_validator::integer(const char* field, int64_t min, int64_t max,
                                                bool required) {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) {
    // An optional field sent as null counts as absent.
    if (required) fail(field, "is required");
    return std::nullopt;
  }
  auto range_message = [&] {
    return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
  };
  if (!it->is_number_integer()) {
    fail(field, range_message());
    return std::nullopt;
  }
  // nlohmann stores every non-negative integer as unsigned; above INT64_MAX
  // it cannot be an int64 at all.
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail(field, range_message());
    return std::nullopt;
  }
  auto value = it->get<int64_t>();
  if (value < min || value > max) {
    fail(field, range_message());
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> field_validator::text(const char* field, size_t min_chars,
                                                 size_t max_chars, bool required) {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) {
    // An optional field sent as null counts as absent.
    if (required) fail(field, "is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  const auto& value = it->get_ref<const std::string&>();
  auto length = utf8_length(value);
  if (length < min_chars || length > max_chars) {
    fail(field, "must be " + std::to_string(min_chars) + " to " + std::to_string(max_chars) +
                  " characters long");
    return std::nullopt;
  }
  return value;
}

void field_validator::fail(std::string field, std::string message) {
  errors_.push_back({std::move(field), std::move(message)});
}

} // namespace tally
