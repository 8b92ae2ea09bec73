#include "protocols/credits.hpp"

#include <chrono>

namespace tally {

timestamp_us now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string_view to_string(ledger_type type) {
  switch (type) {
    case ledger_type::grant: return "grant";
    case ledger_type::topup: return "topup";
    case ledger_type::debit: return "debit";
    case ledger_type::charge: return "charge";
    case ledger_type::reserve: return "reserve";
    case ledger_type::capture: return "capture";
    case ledger_type::release: return "release";
  }
  return "unknown";
}

std::optional<ledger_type> parse_ledger_type(std::string_view text) {
  for (auto type : {ledger_type::grant, ledger_type::topup, ledger_type::debit,
                    ledger_type::charge, ledger_type::reserve, ledger_type::capture,
                    ledger_type::release})
    if (to_string(type) == text) return type;
  return std::nullopt;
}

} // namespace tally
