#pragma once
// msgpack encoding of results that leave the process: stored idempotent
// responses today, node-to-node messages later. Decoding is strict: bytes
// that do not match the expected shape yield nullopt, never a crash.
#include <optional>
#include <string>

#include "protocols/credits.hpp"
#include "protocols/generations.hpp"

namespace tally {

std::string encode(const charge_result& result);
std::string encode(const credit_result& result);

std::optional<charge_result> decode_charge_result(const std::string& bytes);
std::optional<credit_result> decode_credit_result(const std::string& bytes);

std::string encode(const generation_created& result);
std::optional<generation_created> decode_generation_created(const std::string& bytes);

} // namespace tally
