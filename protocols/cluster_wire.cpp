#include "protocols/cluster_wire.hpp"

#include <type_traits>
#include <utility>
#include <variant>

#include "protocols/secrets.hpp"

namespace tally {

namespace {

constexpr std::string_view cluster_auth_label = "tally cluster auth v1";

/// The T of a reply<T>.
template <class Reply>
struct reply_value;
template <class T>
struct reply_value<reply<T>> {
  using type = T;
};

/// The command's result type, as a value of the reply<T> alternative.
template <class Result>
completion completion_of(std::function<void(reply_body)> answer) {
  return completion{reply<Result>{[answer = std::move(answer)](outcome<Result> result) {
    if (result.ok())
      answer(reply_body{std::move(result.value())});
    else
      answer(reply_body{result.error()});
  }}};
}

} // namespace

std::string cluster_auth_key(std::string_view jwt_secret) {
  return hmac_sha256(jwt_secret, cluster_auth_label);
}

std::string cluster_auth_tag(std::string_view key, std::string_view body) {
  return to_hex(hmac_sha256(key, body));
}

bool cluster_auth_valid(std::string_view key, std::string_view body, std::string_view tag) {
  return constant_time_equal(cluster_auth_tag(key, body), tag);
}

completion completion_for(const entity_command& command, std::function<void(reply_body)> answer) {
  return std::visit(
    [&answer](const auto& of_kind) {
      return std::visit(
        [&answer](const auto& one) {
          using result = typename std::decay_t<decltype(one)>::result;
          return completion_of<result>(std::move(answer));
        },
        of_kind);
    },
    command);
}

bool deliver(completion& done, reply_body body) {
  if (auto* why = std::get_if<failure>(&body)) {
    fail(done, *why);
    return true;
  }
  return std::visit(
    [&body](auto& waiting) {
      using wanted = typename reply_value<std::decay_t<decltype(waiting)>>::type;
      if (auto* value = std::get_if<wanted>(&body)) {
        waiting(outcome<wanted>{std::move(*value)});
        return true;
      }
      waiting(outcome<wanted>{failure{error_code::internal, "a peer answered another result type", 0}});
      return false;
    },
    done);
}

} // namespace tally
