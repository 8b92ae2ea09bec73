#pragma once
// outcome<T>: either a value or a domain failure. This is what crosses from
// actors to the HTTP layer through the gateway (no CAF types leak into http/).
#include <string>
#include <utility>
#include <variant>

#include "protocols/error_code.hpp"
#include "protocols/fields.hpp"

namespace tally {

/// Why a command did not produce a value. `detail` is safe to show a client.
struct failure {
  error_code code = error_code::internal;
  std::string detail;
  /// Seconds a client should wait before retrying (503/429); 0 = no header.
  int retry_after_s = 0;
};

template <class T>
class outcome {
public:
  outcome(T value) : state_(std::move(value)) {}
  outcome(failure why) : state_(std::move(why)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const { return std::get<0>(state_); }
  T& value() { return std::get<0>(state_); }
  const failure& error() const { return std::get<1>(state_); }

private:
  std::variant<T, failure> state_;
};

/// Field list (protocols/fields.hpp).
TALLY_FIELDS(failure, x.code, x.detail, x.retry_after_s)

} // namespace tally
