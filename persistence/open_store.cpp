#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "persistence/postgres_store.hpp"
#include "persistence/sqlite_store.hpp"
#include "persistence/store.hpp"

namespace tally {
namespace {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// SQLite names that are not plain file paths: no directory to create.
bool is_special_sqlite_name(const std::string& path) {
  return path == ":memory:" || starts_with(path, "file:");
}

} // namespace

std::unique_ptr<store> open_store(const std::string& url) {
  constexpr std::string_view sqlite_scheme = "sqlite:";
  if (starts_with(url, sqlite_scheme)) {
    std::string path = url.substr(sqlite_scheme.size());
    if (path.empty()) throw std::invalid_argument("store URL sqlite: needs a path (sqlite:<path>)");
    if (!is_special_sqlite_name(path)) {
      // First start on a fresh machine: the data directory may not exist yet.
      auto parent = std::filesystem::path(path).parent_path();
      std::error_code error;
      if (!parent.empty()) std::filesystem::create_directories(parent, error);
      if (error) {
        throw store_error(store_fault::transient,
                          "sqlite: cannot create directory " + parent.string() + ": " + error.message());
      }
    }
    return std::make_unique<sqlite_store>(path);
  }
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://"))
    return std::make_unique<postgres_store>(url);
  // The URL itself is not echoed: it may carry a password.
  throw std::invalid_argument("unsupported store URL: expected sqlite:<path> or postgresql://...");
}

} // namespace tally
