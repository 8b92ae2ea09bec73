#include "protocols/codec.hpp"

#include "protocols/wire.hpp"

namespace tally {

namespace {

// A stored response is a flat array whose first element is a format
// version, then the result's fields (protocols/fields.hpp), so stored responses
// stay readable when a result gains fields. The bytes are those of the first
// stored responses: rows written before the field lists existed still decode.
constexpr int codec_version = 1;

template <class Result>
std::string encode_versioned(const Result& result) {
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  fields(result, [&out](const auto&... xs) {
    out.pack_array(static_cast<uint32_t>(1 + sizeof...(xs)));
    out.pack(codec_version);
    (out.pack(xs), ...);
    return 0;
  });
  return std::string(buffer.data(), buffer.size());
}

template <class Result>
std::optional<Result> decode_versioned(const std::string& bytes) {
  try {
    size_t offset = 0;
    auto handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
    if (offset != bytes.size()) return std::nullopt;
    const auto& object = handle.get();
    Result result{};
    bool matches = fields(result, [&object](auto&... xs) {
      if (object.type != msgpack::type::ARRAY || object.via.array.size != 1 + sizeof...(xs))
        return false;
      const auto* item = object.via.array.ptr;
      if (item->as<int>() != codec_version) return false;
      ((++item)->convert(xs), ...);
      return true;
    });
    if (!matches) return std::nullopt;
    return result;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

std::string encode(const charge_result& result) { return encode_versioned(result); }
std::string encode(const credit_result& result) { return encode_versioned(result); }

std::optional<charge_result> decode_charge_result(const std::string& bytes) {
  return decode_versioned<charge_result>(bytes);
}

std::optional<credit_result> decode_credit_result(const std::string& bytes) {
  return decode_versioned<credit_result>(bytes);
}

std::string encode(const generation_created& result) { return encode_versioned(result); }

std::optional<generation_created> decode_generation_created(const std::string& bytes) {
  return decode_versioned<generation_created>(bytes);
}

} // namespace tally
