#pragma once
// API.md "Generations": GET /v1/models, POST /v1/generations, GET
// /v1/generations/{generation_id}, GET /v1/generations, POST
// /v1/generations/{generation_id}/cancel. One free function per endpoint
// with the endpoint signature (router.hpp); validation here (every bad
// field in one 422), decisions in the user actor.
#include <cstddef>
#include <memory>

namespace tally {

struct request_context;

/// POST /v1/generations: prompt length in characters (API.md).
inline constexpr size_t generation_prompt_chars_max = 4000;
/// GET /v1/generations ?limit=: default and bounds (like the ledger).
inline constexpr int generation_page_limit_default = 50;
inline constexpr int generation_page_limit_max = 200;

/// GET /v1/models -> 200 {"data": [{"id", "type", "price", "params"}]}.
void list_models(const std::shared_ptr<request_context>& context);

/// POST /v1/generations {"model_id", "prompt", "params"?, "idempotency_key"?} -> 202.
void create_generation(const std::shared_ptr<request_context>& context);

/// GET /v1/generations/{generation_id} -> 200 for its owner, else 404.
void get_generation(const std::shared_ptr<request_context>& context);

/// GET /v1/generations?status&limit&cursor -> 200 {"data", "next_cursor"}.
void list_generations(const std::shared_ptr<request_context>& context);

/// POST /v1/generations/{generation_id}/cancel -> 200 {..., "status": "cancelled"}.
void cancel_generation(const std::shared_ptr<request_context>& context);

} // namespace tally
