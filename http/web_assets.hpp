#pragma once
// The example web page (examples/web/) served at /app/. Every file is read
// once at start-up into memory: the page is a few small files, and reading
// them per request would put file I/O on an Asio thread.
#include <map>
#include <string>
#include <string_view>

namespace tally {

/// One file of the page, ready to send.
struct web_asset {
  std::string content_type;
  std::string body;
  /// A strong validator (hash of the bytes), quoted as HTTP wants it.
  std::string etag;
};

/// The page's files by name ("index.html", "app.js"). Empty = the page is off.
class web_assets {
public:
  web_assets() = default;

  /// Reads the regular files directly in `directory` whose names are plain
  /// (letters, digits, '.', '-', '_') and whose type is known; throws
  /// std::runtime_error naming the directory when it cannot be read.
  static web_assets load(const std::string& directory);

  /// nullptr when there is no such file (or the page is off).
  const web_asset* find(std::string_view name) const;

  bool empty() const { return files_.empty(); }
  size_t size() const { return files_.size(); }

private:
  std::map<std::string, web_asset, std::less<>> files_;
};

/// The Content-Type for a file name's extension; empty = not served.
std::string_view web_content_type(std::string_view name);

} // namespace tally
