#pragma once
// API.md "Ops": liveness, readiness and Prometheus metrics. Public, cheap,
// answered on the calling thread (no gateway round trip).
#include <memory>

namespace tally {

struct request_context;

/// GET /healthz -> 200 {"status":"ok"} while the process serves.
void get_health(const std::shared_ptr<request_context>& context);

/// GET /readyz -> 200 {"status":"ready","checks":{...}} or 503 with the
/// failing checks ("store": reachable, "backlog": under its bound).
void get_readiness(const std::shared_ptr<request_context>& context);

/// GET /metrics -> Prometheus text exposition format 0.0.4.
void get_metrics(const std::shared_ptr<request_context>& context);

} // namespace tally
