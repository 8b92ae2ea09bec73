#include "http/web_assets.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "protocols/secrets.hpp"

namespace tally {

namespace {

bool is_plain_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_';
  });
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string strong_etag(const std::string& body) {
  // 16 bytes of the hash are plenty to tell versions of one small file apart.
  return "\"" + to_hex(sha256(body).substr(0, 16)) + "\"";
}

} // namespace

std::string_view web_content_type(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 7> types{{
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
  }};
  for (const auto& [extension, type] : types)
    if (name.size() > extension.size()
        && name.compare(name.size() - extension.size(), extension.size(), extension) == 0)
      return type;
  return {};
}

web_assets web_assets::load(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(directory, error))
    throw std::runtime_error("web page directory " + directory + " does not exist");
  web_assets assets;
  for (const auto& entry : fs::directory_iterator(directory)) {
    auto name = entry.path().filename().string();
    auto type = web_content_type(name);
    if (!entry.is_regular_file() || !is_plain_name(name) || type.empty()) continue;
    web_asset asset;
    asset.content_type = std::string(type);
    asset.body = read_file(entry.path());
    asset.etag = strong_etag(asset.body);
    assets.files_.emplace(std::move(name), std::move(asset));
  }
  if (!assets.find("index.html"))
    throw std::runtime_error("web page directory " + directory + " has no index.html");
  return assets;
}

const web_asset* web_assets::find(std::string_view name) const {
  auto found = files_.find(name);
  return found == files_.end() ? nullptr : &found->second;
}

} // namespace tally
