#pragma once
// The example web page (examples/web/) at /app/: public, static, answered on
// the calling thread from the files read at start-up (http/web_assets.hpp).
// When the page is off every path under /app answers 404 like any unknown path.
#include <memory>

namespace tally {

struct request_context;

/// GET /app -> 308 to /app/ (relative URLs in the page resolve under /app/).
void redirect_to_web_page(const std::shared_ptr<request_context>& context);

/// GET /app/ -> index.html.
void get_web_page(const std::shared_ptr<request_context>& context);

/// GET /app/{file} -> that file, or 404.
void get_web_file(const std::shared_ptr<request_context>& context);

} // namespace tally
