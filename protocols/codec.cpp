#include "protocols/codec.hpp"

#include <msgpack.hpp>

namespace tally {

namespace {

// Every encoded value is an array whose first element is a format version,
// so stored responses stay readable when a result gains fields.
constexpr int codec_version = 1;

std::string to_bytes(const msgpack::sbuffer& buffer) {
  return std::string(buffer.data(), buffer.size());
}

std::optional<msgpack::object_handle> unpack_array(const std::string& bytes, uint32_t size) {
  try {
    auto handle = msgpack::unpack(bytes.data(), bytes.size());
    const auto& object = handle.get();
    if (object.type != msgpack::type::ARRAY || object.via.array.size != size) return std::nullopt;
    if (object.via.array.ptr[0].as<int>() != codec_version) return std::nullopt;
    return handle;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

std::string encode(const charge_result& result) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(4);
  packer.pack(codec_version);
  packer.pack_bin(16);
  packer.pack_bin_body(reinterpret_cast<const char*>(result.id.data), 16);
  packer.pack(result.amount);
  packer.pack(result.available);
  return to_bytes(buffer);
}

std::string encode(const credit_result& result) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> packer(buffer);
  packer.pack_array(3);
  packer.pack(codec_version);
  packer.pack(result.available);
  packer.pack(result.reserved);
  return to_bytes(buffer);
}

std::optional<charge_result> decode_charge_result(const std::string& bytes) {
  auto handle = unpack_array(bytes, 4);
  if (!handle) return std::nullopt;
  try {
    const auto* items = handle->get().via.array.ptr;
    if (items[1].type != msgpack::type::BIN || items[1].via.bin.size != 16) return std::nullopt;
    charge_result result;
    std::copy_n(reinterpret_cast<const uint8_t*>(items[1].via.bin.ptr), 16, result.id.data);
    result.amount = items[2].as<int64_t>();
    result.available = items[3].as<int64_t>();
    return result;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<credit_result> decode_credit_result(const std::string& bytes) {
  auto handle = unpack_array(bytes, 3);
  if (!handle) return std::nullopt;
  try {
    const auto* items = handle->get().via.array.ptr;
    return credit_result{items[1].as<int64_t>(), items[2].as<int64_t>()};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace tally
