#include "http/generation_views.hpp"

#include <charconv>

#include "protocols/base64url.hpp"
#include "protocols/json_writer.hpp"

namespace tally {

namespace {

/// Longest cursor decoded: an int64, a colon and a UUID, in base64url.
constexpr size_t generation_cursor_chars_max = 96;

void write_row(json_writer& json, const generation_row& row) {
  json.begin_object();
  json.key("id").string(to_string(row.id));
  json.key("status").string(to_string(row.status));
  json.key("model_id").string(row.model_id);
  json.key("price").integer(row.price);
  json.key("prompt").string(row.prompt);
  json.key("params").raw(row.params_json.empty() ? std::string_view("{}") : std::string_view(row.params_json));
  json.key("result_url").string_or_null(row.result_url);
  json.key("error").string_or_null(row.error);
  json.key("created_at").timestamp(row.created_at);
  json.key("updated_at").timestamp(row.updated_at);
  json.key("timeout_at").timestamp(row.timeout_at);
  json.end_object();
}

} // namespace

std::string render_models(const generation_catalog& catalog) {
  std::string out;
  json_writer json(out);
  json.begin_object().key("data").begin_array();
  for (const auto& model : catalog.models) {
    json.begin_object();
    json.key("id").string(model.id);
    json.key("type").string(model.type);
    json.key("price").integer(model.price);
    json.key("params").begin_object();
    for (const auto& param : model.params) {
      json.key(param.name).begin_object();
      json.key("type").string("integer");
      json.key("min").integer(param.min);
      json.key("max").integer(param.max);
      json.key("default").integer(param.default_value);
      json.end_object();
    }
    json.end_object();
    json.end_object();
  }
  json.end_array().end_object();
  return out;
}

std::string render_generation_created(const generation_created& created) {
  std::string out;
  out.reserve(256);
  json_writer json(out);
  json.begin_object();
  json.key("id").string(to_string(created.id));
  json.key("status").string("pending");
  json.key("model_id").string(created.model_id);
  json.key("price").integer(created.price);
  json.key("created_at").timestamp(created.created_at);
  json.key("timeout_at").timestamp(created.timeout_at);
  json.key("available").integer(created.available);
  json.key("reserved").integer(created.reserved);
  json.end_object();
  return out;
}

std::string render_generation(const generation_row& row) {
  std::string out;
  out.reserve(384 + row.prompt.size());
  json_writer json(out);
  write_row(json, row);
  return out;
}

std::string render_generation_page(const generation_page& page) {
  std::string out;
  json_writer json(out);
  json.begin_object().key("data").begin_array();
  for (const auto& row : page.generations) write_row(json, row);
  json.end_array();
  json.key("next_cursor");
  if (page.next_created_at)
    json.string(encode_generation_cursor(*page.next_created_at, page.next_id));
  else
    json.null();
  json.end_object();
  return out;
}

std::string encode_generation_cursor(timestamp_us created_at, const uuid& id) {
  return base64url_encode(std::to_string(created_at) + ":" + to_string(id));
}

bool decode_generation_cursor(std::string_view cursor, generation_query& query) {
  if (cursor.empty() || cursor.size() > generation_cursor_chars_max) return false;
  auto bytes = base64url_decode(cursor);
  if (!bytes) return false;
  auto colon = bytes->find(':');
  if (colon == std::string::npos || colon == 0) return false;
  int64_t created_at = 0;
  const char* first = bytes->data();
  auto [end, ec] = std::from_chars(first, first + colon, created_at);
  if (ec != std::errc{} || end != first + colon || created_at < 0) return false;
  auto id = parse_uuid(std::string_view(*bytes).substr(colon + 1));
  if (!id) return false;
  query.before_created_at = created_at;
  query.before_id = *id;
  return true;
}

std::optional<std::string> canonical_params(const model_info& model, const nlohmann::json* params,
                                            std::vector<field_error>& errors) {
  nlohmann::json canonical = nlohmann::json::object();
  for (const auto& param : model.params) canonical[param.name] = param.default_value;
  if (params == nullptr || params->is_null()) return canonical.dump();
  if (!params->is_object()) {
    errors.push_back({"params", "must be an object"});
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& [name, value] : params->items()) {
    const model_param* known = nullptr;
    for (const auto& param : model.params)
      if (param.name == name) known = &param;
    auto field = "params." + name;
    if (known == nullptr) {
      errors.push_back({field, "is not a parameter of " + model.id});
      ok = false;
      continue;
    }
    auto range = "must be an integer from " + std::to_string(known->min) + " to " + std::to_string(known->max);
    bool in_int64 = value.is_number_integer() &&
                    !(value.is_number_unsigned() &&
                      value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
    if (!in_int64 || value.get<int64_t>() < known->min || value.get<int64_t>() > known->max) {
      errors.push_back({field, range});
      ok = false;
      continue;
    }
    canonical[name] = value.get<int64_t>();
  }
  if (!ok) return std::nullopt;
  return canonical.dump();
}

} // namespace tally
