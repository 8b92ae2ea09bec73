#pragma once
// API.md "Credits": one free function per endpoint, all with the endpoint
// signature (router.hpp). Each validates what the pipeline left to it,
// calls the gateway, and renders the reply. Bodies are rendered by hand in
// a fixed field order, so a replayed idempotent response is byte-identical.
#include <cstdint>
#include <memory>

namespace tally {

struct request_context;

/// GET /v1/me/ledger ?limit=: default and bounds (API.md, pagination).
inline constexpr int ledger_page_limit_default = 50;
inline constexpr int ledger_page_limit_max = 200;
/// POST /v1/me/charges: amount 1..10^9 credits (API.md).
inline constexpr int64_t charge_amount_max = 1'000'000'000;
/// POST /v1/me/charges: description up to 500 characters.
inline constexpr size_t charge_description_chars_max = 500;
/// POST /v1/admin/users/{id}/credits: |amount| up to 10^12 credits, so
/// sums of grants stay far from int64 overflow.
inline constexpr int64_t credit_amount_abs_max = 1'000'000'000'000;
/// POST /v1/admin/users/{id}/credits: reason 1..500 characters.
inline constexpr size_t credit_reason_chars_max = 500;

/// GET /v1/me/balance -> 200 {"available", "reserved"}.
void get_balance(const std::shared_ptr<request_context>& context);

/// GET /v1/me/ledger?limit&cursor&type -> 200 {"data": [...], "next_cursor"}.
void list_ledger(const std::shared_ptr<request_context>& context);

/// POST /v1/me/charges {"amount", "description"?} -> 201 {"id", "amount", "available"}.
void create_charge(const std::shared_ptr<request_context>& context);

/// POST /v1/admin/users/{user_id}/credits {"amount", "reason"} -> 200 {"available", "reserved"}.
void credit_user(const std::shared_ptr<request_context>& context);

} // namespace tally
