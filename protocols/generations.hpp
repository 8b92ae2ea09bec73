#pragma once
// Generations vocabulary (API.md "Generations"): the catalog of models, the
// generation itself as stored and shown, the queries and the commands a
// user actor takes for it. Plain structs; no CAF, no JSON library.
//
//   pending --submitted--> processing --provider ok--> completed (capture)
//      |                       |--------provider error / time-out / interrupted--> failed (release)
//      +-----------------------+--cancel--> cancelled (release)
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/auth.hpp"
#include "protocols/credits.hpp"
#include "protocols/fields.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Where a generation is in its life (diagram above).
enum class generation_status : uint8_t {
  pending,     ///< reserved, not yet handed to the provider
  processing,  ///< handed to the provider
  completed,   ///< the provider answered with a result: price captured
  failed,      ///< provider error, time-out or interrupted: price released
  cancelled,   ///< cancelled by its owner: price released
};

std::string_view to_string(generation_status status);
std::optional<generation_status> parse_generation_status(std::string_view text);

/// pending or processing: the price is still reserved.
constexpr bool is_active(generation_status status) {
  return status == generation_status::pending || status == generation_status::processing;
}

/// One integer parameter a model takes, with its bounds and default.
struct model_param {
  std::string name;
  int64_t min = 0;
  int64_t max = 0;
  int64_t default_value = 0;
};

/// One model of the catalog (GET /v1/models).
struct model_info {
  std::string id;
  std::string type;  ///< image, video, text, document
  int64_t price = 0;
  std::vector<model_param> params;
};

/// The catalog from configuration.
struct generation_catalog {
  std::vector<model_info> models;
  const model_info* find(std::string_view id) const;
};

/// API.md's default catalog.
generation_catalog default_generation_catalog();

/// Parses a catalog setting: models separated by ',', each
/// `id:type:price[:param=min..max/default[;param=...]]`, e.g.
/// `doc-writer:document:10:target_pages=3..1000/50`. nullopt + `error` when malformed.
std::optional<generation_catalog> parse_generation_catalog(std::string_view text, std::string& error);

/// The inverse of parse_generation_catalog (for --help defaults and tests).
std::string format_generation_catalog(const generation_catalog& catalog);

/// A generation as stored and as GET /v1/generations/{id} shows it.
struct generation_row {
  uuid id{};
  uuid user_id{};
  std::string model_id;
  int64_t price = 0;
  std::string prompt;
  /// The params object as canonical JSON text (defaults filled in).
  std::string params_json;
  generation_status status = generation_status::pending;
  std::string result_url;  ///< empty = null
  std::string error;       ///< empty = null ("provider_error", "timeout", "interrupted", ...)
  std::string idempotency_key;  ///< empty = none
  timestamp_us created_at = 0;
  timestamp_us updated_at = 0;
  timestamp_us timeout_at = 0;
};

/// GET /v1/generations: newest first, optionally by status (or active).
struct generation_query {
  int limit = 50;
  std::optional<generation_status> status;
  /// status=active: pending or processing.
  bool active_only = false;
  /// Cursor: only generations before (created_at, id) in the order.
  std::optional<timestamp_us> before_created_at;
  uuid before_id{};
};

struct generation_page {
  std::vector<generation_row> generations;
  /// Set when more exist: the last row's (created_at, id).
  std::optional<timestamp_us> next_created_at;
  uuid next_id{};
};

/// POST /v1/generations after validation: the price comes from the catalog.
struct generation_command {
  std::string model_id;
  std::string prompt;
  std::string params_json;
  int64_t price = 0;
  idempotency idem;
};

/// The 202 body of a create.
struct generation_created {
  uuid id{};
  std::string model_id;
  int64_t price = 0;
  timestamp_us created_at = 0;
  timestamp_us timeout_at = 0;
  int64_t available = 0;
  int64_t reserved = 0;
};

/// What a provider answered for one job (or the client's own verdict:
/// time-out, connection refused, breaker).
struct provider_answer {
  bool ok = false;
  std::string result_url;  ///< when ok
  std::string error;       ///< when not ok: a short reason for the log and the row
};

/// The limits and time-outs of generations (API.md defaults; settings).
struct generation_config {
  /// Creations per minute per user (GCRA).
  rate_limit create_rate{10, std::chrono::minutes(1)};
  /// pending + processing per user at most.
  int active_max = 5;
  /// A generation still active this long after creation is failed and released.
  std::chrono::milliseconds timeout{std::chrono::minutes(15)};
};

// -- field lists (protocols/fields.hpp) ----------------------------------------------
TALLY_FIELDS(model_param, x.name, x.min, x.max, x.default_value)
TALLY_FIELDS(model_info, x.id, x.type, x.price, x.params)
TALLY_FIELDS(generation_row, x.id, x.user_id, x.model_id, x.price, x.prompt, x.params_json, x.status,
             x.result_url, x.error, x.idempotency_key, x.created_at, x.updated_at, x.timeout_at)
TALLY_FIELDS(generation_query, x.limit, x.status, x.active_only, x.before_created_at, x.before_id)
TALLY_FIELDS(generation_page, x.generations, x.next_created_at, x.next_id)
TALLY_FIELDS(generation_command, x.model_id, x.prompt, x.params_json, x.price, x.idem)
TALLY_FIELDS(generation_created, x.id, x.model_id, x.price, x.created_at, x.timeout_at, x.available,
             x.reserved)
TALLY_FIELDS(provider_answer, x.ok, x.result_url, x.error)

} // namespace tally
