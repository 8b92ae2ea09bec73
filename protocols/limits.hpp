#pragma once
// The defaults of the pipeline's tuning limits, each defined once here and
// used by the runtime's configuration, the entities' context, the writer
// and the health view (app/settings.cpp overrides them from the
// environment; API.md names the settings).
#include <cstddef>
#include <cstdint>

namespace tally {

/// Uncommitted writes (so replies waiting for a commit) per entity before
/// 503 OVERLOADED: CAF keeps pending replies in a linearly searched vector,
/// 4 096 outstanding already cost 90 % of the throughput (CAF-0.17.md §4).
constexpr size_t entity_pending_replies_max = 1024;

/// Committed idempotency keys a user keeps in memory; older ones are looked
/// up in the store. Covers a hot user's last few seconds at full speed.
constexpr size_t idempotency_cached_max = 4096;

/// Records per store transaction at most: one Postgres commit of this many
/// rows stays well under the statement time-out, and a batch that fails for
/// good is bisected in about 2 * log2 of it commits.
constexpr size_t write_batch_records_max = 8192;

/// Records handed to the writer and not yet committed before mutations get
/// 503 OVERLOADED: about ten seconds of the hot path, a few tens of MB.
constexpr int64_t backlog_records_max = 100'000;

static_assert(write_batch_records_max <= static_cast<size_t>(backlog_records_max),
              "a full batch must fit in the backlog");
static_assert(entity_pending_replies_max <= write_batch_records_max,
              "one entity's window fits in one batch");

} // namespace tally
