#include "protocols/generations.hpp"

#include <charconv>

namespace tally {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    auto at = text.find(separator, start);
    parts.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// `name=min..max/default`.
std::optional<model_param> parse_param(std::string_view text) {
  auto equals = text.find('=');
  auto dots = text.find("..");
  auto slash = text.find('/');
  if (equals == std::string_view::npos || dots == std::string_view::npos || slash == std::string_view::npos
      || !(equals < dots && dots < slash) || equals == 0)
    return std::nullopt;
  auto min = parse_int(text.substr(equals + 1, dots - equals - 1));
  auto max = parse_int(text.substr(dots + 2, slash - dots - 2));
  auto fallback = parse_int(text.substr(slash + 1));
  if (!min || !max || !fallback || *min > *max || *fallback < *min || *fallback > *max) return std::nullopt;
  return model_param{std::string(text.substr(0, equals)), *min, *max, *fallback};
}

} // namespace

std::string_view to_string(generation_status status) {
  switch (status) {
    case generation_status::pending: return "pending";
    case generation_status::processing: return "processing";
    case generation_status::completed: return "completed";
    case generation_status::failed: return "failed";
    case generation_status::cancelled: return "cancelled";
  }
  return "unknown";
}

std::optional<generation_status> parse_generation_status(std::string_view text) {
  for (auto status : {generation_status::pending, generation_status::processing, generation_status::completed,
                      generation_status::failed, generation_status::cancelled})
    if (to_string(status) == text) return status;
  return std::nullopt;
}

const model_info* generation_catalog::find(std::string_view id) const {
  for (const auto& model : models)
    if (model.id == id) return &model;
  return nullptr;
}

generation_catalog default_generation_catalog() {
  generation_catalog catalog;
  catalog.models.push_back({"nano-banana", "image", 5, {}});
  catalog.models.push_back({"veo-lite", "video", 20, {}});
  catalog.models.push_back({"chat-small", "text", 1, {}});
  catalog.models.push_back({"doc-writer", "document", 10, {{"target_pages", 3, 1000, 50}}});
  return catalog;
}

std::optional<generation_catalog> parse_generation_catalog(std::string_view text, std::string& error) {
  generation_catalog catalog;
  for (auto entry : split(text, ',')) {
    auto parts = split(entry, ':');
    if (parts.size() < 3 || parts.size() > 4 || parts[0].empty() || parts[1].empty()) {
      error = "model '" + std::string(entry) + "' is not id:type:price[:params]";
      return std::nullopt;
    }
    auto price = parse_int(parts[2]);
    if (!price || *price < 1) {
      error = "model '" + std::string(parts[0]) + "' needs a price >= 1";
      return std::nullopt;
    }
    if (catalog.find(parts[0]) != nullptr) {
      error = "model '" + std::string(parts[0]) + "' is listed twice";
      return std::nullopt;
    }
    model_info model{std::string(parts[0]), std::string(parts[1]), *price, {}};
    if (parts.size() == 4) {
      for (auto spec : split(parts[3], ';')) {
        auto param = parse_param(spec);
        if (!param) {
          error = "parameter '" + std::string(spec) + "' is not name=min..max/default";
          return std::nullopt;
        }
        model.params.push_back(std::move(*param));
      }
    }
    catalog.models.push_back(std::move(model));
  }
  if (catalog.models.empty()) {
    error = "the catalog lists no model";
    return std::nullopt;
  }
  return catalog;
}

std::string format_generation_catalog(const generation_catalog& catalog) {
  std::string out;
  for (const auto& model : catalog.models) {
    if (!out.empty()) out += ',';
    out += model.id + ':' + model.type + ':' + std::to_string(model.price);
    for (size_t i = 0; i < model.params.size(); ++i) {
      const auto& param = model.params[i];
      out += i == 0 ? ':' : ';';
      out += param.name + '=' + std::to_string(param.min) + ".." + std::to_string(param.max) + '/' +
             std::to_string(param.default_value);
    }
  }
  return out;
}

} // namespace tally
