#include "http/web_routes.hpp"

#include "http/request_context.hpp"
#include "http/request_handler.hpp"

namespace tally {

namespace {

/// The page loads only its own files and talks only to this origin; it
/// cannot be framed (clickjacking) and inline script is refused, so an
/// injected string in the page can never run.
constexpr std::string_view page_security_policy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

void answer_file(request_context& context, std::string_view name) {
  const auto* asset = context.handler.web().find(name);
  if (!asset) {
    context.answer_problem(problem_code::not_found);
    return;
  }
  bool unchanged = context.request[http::field::if_none_match] == asset->etag;
  http_response response{unchanged ? http::status::not_modified : http::status::ok, 11};
  response.set(http::field::etag, asset->etag);
  // Revalidate every time: a new build of the page must never mix with
  // cached files of the old one, and the 304 costs one small round trip.
  response.set(http::field::cache_control, "no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Content-Security-Policy", page_security_policy);
  response.set("Referrer-Policy", "no-referrer");
  if (!unchanged) {
    response.set(http::field::content_type, asset->content_type);
    response.body() = asset->body;
  }
  context.answer(std::move(response));
}

} // namespace

void redirect_to_web_page(const std::shared_ptr<request_context>& context) {
  if (context->handler.web().empty()) {
    context->answer_problem(problem_code::not_found);
    return;
  }
  http_response response{http::status::permanent_redirect, 11};
  response.set(http::field::location, "/app/");
  context->answer(std::move(response));
}

void get_web_page(const std::shared_ptr<request_context>& context) {
  answer_file(*context, "index.html");
}

void get_web_file(const std::shared_ptr<request_context>& context) {
  answer_file(*context, context->match.param("file"));
}

} // namespace tally
