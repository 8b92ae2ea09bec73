#pragma once
// Field lists: the one serialisation definition of every value that travels
// between actors or leaves the process. Each type's list is declared right
// below the type, with TALLY_FIELDS; two codecs are derived from it and
// from nothing else:
//   - msgpack (protocols/wire.hpp): stored idempotent responses today,
//     node-to-node commands (cluster) next;
//   - CAF inspect (protocols/caf_types.hpp): so these types are ordinary,
//     inspectable CAF message types, not CAF_ALLOW_UNSAFE_MESSAGE_TYPE.
// A field added to a struct must be added to its list, or it is not sent;
// tests/protocols/wire_test.cpp round-trips every type with its fields set to
// non-default values and checks them after decoding.
//
// No msgpack and no CAF here: this header is cheap to include.
#include <type_traits>
#include <utility>

/// Declares the field list of `type`: `TALLY_FIELDS(balance, x.available,
/// x.reserved)`. Expands to `fields(x, f)` overloads (const and mutable)
/// that call `f` once with every field, in order.
#define TALLY_FIELDS(type, ...)                                                \
  template <class F>                                                           \
  decltype(auto) fields(type& x, F&& f) {                                      \
    return f(__VA_ARGS__);                                                     \
  }                                                                            \
  template <class F>                                                           \
  decltype(auto) fields(const type& x, F&& f) {                                \
    return f(__VA_ARGS__);                                                     \
  }

namespace tally {

namespace fields_detail {
/// Stands in for a visitor when asking whether `fields(x, f)` exists.
struct field_probe {
  template <class... Ts>
  int operator()(Ts&...) const {
    return 0;
  }
};
} // namespace fields_detail

/// True for every type with a TALLY_FIELDS list.
template <class T, class = void>
struct has_fields : std::false_type {};

template <class T>
struct has_fields<T, std::void_t<decltype(fields(std::declval<T&>(), fields_detail::field_probe{}))>>
  : std::true_type {};

template <class T>
constexpr bool has_fields_v = has_fields<T>::value;

} // namespace tally
