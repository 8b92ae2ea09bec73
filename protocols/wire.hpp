#pragma once
// msgpack codec derived from the field lists (protocols/fields.hpp): a
// type with fields packs as an array of them, in order; a UUID as 16 bytes of bin; an enum as its underlying integer; a
// std::variant as [index, value]; optionals as nil or the value (msgpack's
// own adaptor). Decoding is strict: another shape, size or type throws
// inside and decode_value answers nullopt, never a crash or a partial value.
//
// Heavy (msgpack): include it only in .cpp files that encode or decode.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <msgpack.hpp>

#include "protocols/commands.hpp"
#include "protocols/records.hpp"

namespace tally {
/// The enums that travel: encoded as their underlying integer.
template <class T>
constexpr bool is_wire_enum_v = std::is_same_v<T, ledger_type> || std::is_same_v<T, identity_kind>
                                || std::is_same_v<T, error_code>
                                || std::is_same_v<T, webhook_status>;
} // namespace tally

namespace msgpack {
MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {
namespace adaptor {

template <>
struct pack<tally::uuid> {
  template <class Stream>
  msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& out, const tally::uuid& id) const {
    out.pack_bin(static_cast<uint32_t>(id.size()));
    out.pack_bin_body(reinterpret_cast<const char*>(id.data), static_cast<uint32_t>(id.size()));
    return out;
  }
};

template <>
struct convert<tally::uuid> {
  const msgpack::object& operator()(const msgpack::object& in, tally::uuid& id) const {
    if (in.type != msgpack::type::BIN || in.via.bin.size != id.size()) throw msgpack::type_error();
    std::copy_n(reinterpret_cast<const uint8_t*>(in.via.bin.ptr), id.size(), id.data);
    return in;
  }
};

template <class T>
struct pack<T, std::enable_if_t<tally::is_wire_enum_v<T>>> {
  template <class Stream>
  msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& out, T value) const {
    out.pack(static_cast<std::underlying_type_t<T>>(value));
    return out;
  }
};

template <class T>
struct convert<T, std::enable_if_t<tally::is_wire_enum_v<T>>> {
  const msgpack::object& operator()(const msgpack::object& in, T& value) const {
    value = static_cast<T>(in.as<std::underlying_type_t<T>>());
    return in;
  }
};

template <class T>
struct pack<T, std::enable_if_t<tally::has_fields_v<T>>> {
  template <class Stream>
  msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& out, const T& value) const {
    tally::fields(value, [&out](const auto&... xs) {
      out.pack_array(static_cast<uint32_t>(sizeof...(xs)));
      (out.pack(xs), ...);
      return 0;
    });
    return out;
  }
};

template <class T>
struct convert<T, std::enable_if_t<tally::has_fields_v<T>>> {
  const msgpack::object& operator()(const msgpack::object& in, T& value) const {
    tally::fields(value, [&in](auto&... xs) {
      if (in.type != msgpack::type::ARRAY || in.via.array.size != sizeof...(xs)) throw msgpack::type_error();
      const msgpack::object* item = in.via.array.ptr;
      ((item++)->convert(xs), ...);
      return 0;
    });
    return in;
  }
};

template <class... Ts>
struct pack<std::variant<Ts...>> {
  template <class Stream>
  msgpack::packer<Stream>& operator()(msgpack::packer<Stream>& out, const std::variant<Ts...>& value) const {
    out.pack_array(2);
    out.pack(static_cast<uint32_t>(value.index()));
    std::visit([&out](const auto& alternative) { out.pack(alternative); }, value);
    return out;
  }
};

template <class... Ts>
struct convert<std::variant<Ts...>> {
  const msgpack::object& operator()(const msgpack::object& in, std::variant<Ts...>& value) const {
    if (in.type != msgpack::type::ARRAY || in.via.array.size != 2) throw msgpack::type_error();
    auto index = in.via.array.ptr[0].as<uint32_t>();
    if (index >= sizeof...(Ts)) throw msgpack::type_error();
    assign(in.via.array.ptr[1], index, value, std::index_sequence_for<Ts...>{});
    return in;
  }

private:
  template <size_t... Is>
  static void assign(const msgpack::object& payload, uint32_t index, std::variant<Ts...>& value,
                     std::index_sequence<Is...>) {
    // Exactly one alternative matches `index`.
    ((index == Is ? (void)payload.convert(value.template emplace<Is>()) : (void)0), ...);
  }
};

} // namespace adaptor
} // MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS)
} // namespace msgpack

namespace tally {

/// The msgpack bytes of any value with a field list (or a variant of them).
template <class T>
std::string encode_value(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
}

/// The value `bytes` encode, or nullopt if they are not exactly one T.
template <class T>
std::optional<T> decode_value(std::string_view bytes) {
  try {
    size_t offset = 0;
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
    if (offset != bytes.size()) return std::nullopt;  // trailing bytes
    T value{};
    handle.get().convert(value);
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace tally
