#include "http/router.hpp"

#include <stdexcept>

namespace tally {

namespace {

bool is_param(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

/// "/a/b" -> {"a", "b"}; "/" -> {""}.
std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> segments;
  size_t start = 1;
  while (true) {
    auto slash = pattern.find('/', start);
    segments.emplace_back(pattern.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

} // namespace

std::string_view route_match::param(std::string_view name) const {
  if (!matched) return {};
  for (size_t i = 0; i < matched->param_names.size(); ++i)
    if (matched->param_names[i] == name) return params[i];
  return {};
}

void router::add(std::string_view pattern, endpoint e) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with '/'");
  route* target = nullptr;
  for (auto& existing : routes_)
    if (existing.pattern == pattern) target = &existing;
  if (!target) {
    route fresh;
    fresh.pattern = std::string(pattern);
    fresh.index = routes_.size();
    fresh.segments = split_pattern(pattern);
    for (const auto& segment : fresh.segments)
      if (is_param(segment)) fresh.param_names.push_back(segment.substr(1, segment.size() - 2));
    if (fresh.param_names.size() > path_params_max)
      throw std::invalid_argument("too many path parameters in a route");
    routes_.push_back(std::move(fresh));
    target = &routes_.back();
  }
  for (const auto& existing : target->endpoints)
    if (existing.method == e.method) throw std::invalid_argument("duplicate route");
  if (!target->methods.empty()) target->methods += ", ";
  target->methods += std::string(boost::beast::http::to_string(e.method));
  target->endpoints.push_back(e);
  target->allow.clear();
  for (const auto& existing : target->endpoints) {
    target->allow += std::string(boost::beast::http::to_string(existing.method)) + ", ";
    if (existing.method == boost::beast::http::verb::get) target->allow += "HEAD, ";
  }
  target->allow += "OPTIONS";
}

route_match router::match(boost::beast::http::verb method, std::string_view path) const {
  route_match result;
  if (path.empty() || path.front() != '/') return result;
  for (const auto& candidate : routes_) {
    size_t position = 1;
    size_t param_index = 0;
    bool matches = true;
    for (size_t i = 0; i < candidate.segments.size() && matches; ++i) {
      if (position > path.size()) {
        matches = false;
        break;
      }
      auto slash = path.find('/', position);
      auto end = slash == std::string_view::npos ? path.size() : slash;
      auto segment = path.substr(position, end - position);
      const auto& expected = candidate.segments[i];
      if (is_param(expected)) {
        if (segment.empty()) matches = false;
        else result.params[param_index++] = segment;
      } else if (segment != expected) {
        matches = false;
      }
      bool last = i + 1 == candidate.segments.size();
      // The path must end exactly where the pattern ends.
      if (matches && last && slash != std::string_view::npos) matches = false;
      position = end + 1;
    }
    if (!matches) continue;
    result.matched = &candidate;
    const endpoint* get = nullptr;
    for (const auto& e : candidate.endpoints) {
      if (e.method == method) result.target = &e;
      if (e.method == boost::beast::http::verb::get) get = &e;
    }
    if (!result.target && method == boost::beast::http::verb::head) result.target = get;
    return result;
  }
  result.params = {};
  return result;
}

} // namespace tally
