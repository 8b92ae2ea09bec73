#include "app/settings.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/program_options.hpp>

#include "app/cluster_settings.hpp"
#include "app/forwarding_settings.hpp"
#include "app/generation_settings.hpp"

namespace tally {

namespace po = boost::program_options;

namespace {

/// TALLY_HTTP_PORT -> http-port; anything without the prefix is ignored.
std::string environment_to_option(const std::string& variable) {
  static const std::string prefix = "TALLY_";
  if (variable.compare(0, prefix.size(), prefix) != 0) return {};
  std::string name = variable.substr(prefix.size());
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
    return c == '_' ? '-' : static_cast<char>(std::tolower(c));
  });
  return name;
}

std::vector<std::string> split_origins(const std::string& text) {
  std::vector<std::string> origins;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    auto first = item.find_first_not_of(" \t");
    auto last = item.find_last_not_of(" \t");
    if (first != std::string::npos) origins.push_back(item.substr(first, last - first + 1));
  }
  return origins;
}

std::optional<app_command> parse_command(const std::string& name) {
  if (name == "serve") return app_command::serve;
  if (name == "migrate") return app_command::migrate;
  if (name == "create-user") return app_command::create_user;
  if (name == "mint-token") return app_command::mint_token;
  return std::nullopt;
}

/// --web-app: "auto" serves the page in dev mode when its folder exists;
/// "1" requires the folder (a missing one stops the start); "0" never.
std::string resolve_web_page(const std::string& mode, const std::string& directory,
                             http_config& http) {
  std::error_code error;
  bool present = std::filesystem::is_regular_file(std::filesystem::path(directory) / "index.html",
                                                  error);
  if (mode == "0") return {};
  if (mode == "auto") {
    if (http.dev && present) http.web_dir = directory;
    return {};
  }
  if (mode != "1") return "web-app must be auto, 1 or 0, not '" + mode + "'";
  if (!present) return "web-app is on but " + directory + "/index.html does not exist (set web-dir)";
  http.web_dir = directory;
  return {};
}

} // namespace

settings_result load_settings(int argc, char** argv) {
  settings s;
  std::string command_name = "serve";
  std::string ack = "commit";
  std::string cors;
  std::string config_file;
  std::string web_app = "auto";
  std::string web_dir = TALLY_DEFAULT_WEB_DIR;
  int http_port = s.http.port;
  int64_t passivate_after_ms = s.runtime.passivate_after.count();
  int64_t request_deadline_ms = s.http.request_deadline.count();
  int64_t read_timeout_ms = s.http.read_timeout.count();
  int64_t idle_timeout_ms = s.http.idle_timeout.count();
  auto& auth = s.runtime.auth;
  int64_t magic_link_ttl_s = auth.magic_link_ttl.count();
  int64_t code_ttl_s = auth.code_ttl.count();
  int64_t code_backoff_ms = auth.code_backoff_base.count();
  int64_t refresh_grace_s = auth.refresh_grace.count();
  int64_t session_ttl_s = auth.session_ttl.count();
  int64_t rate_magic_link_per_email = auth.magic_link_per_email.count;
  int64_t rate_magic_link_per_ip = auth.magic_link_per_ip.count;
  int64_t rate_code_per_phone = auth.code_per_phone.count;
  int64_t rate_refresh_per_session = auth.refresh_per_session.count;
  int64_t rate_magic_link_verify_per_ip = auth.magic_link_verify_per_ip.count;
  int64_t rate_code_per_ip = auth.code_per_ip.count;
  int64_t rate_code_verify_per_ip = auth.code_verify_per_ip.count;
  int64_t rate_refresh_per_ip = auth.refresh_per_ip.count;
  int64_t rate_audit_login_failures = auth.audit_login_failures.count;
  // Tenants (API.md "Tenants and modules").
  auto& tenants = s.runtime.tenants;
  std::string tenant_modules = "shop,crm,booking";
  std::string reserved_subdomains = "www,api,admin,app,mail";
  int64_t trial_days = tenants.trial_length.count() / 24;
  int64_t reservation_ttl_ms = tenants.reservation_ttl.count();
  auto& webhook = s.runtime.webhook;
  int64_t webhook_tolerance_s = webhook.tolerance.count();
  int64_t webhook_retention_s = webhook.retention.count();
  int64_t webhook_sweep_interval_ms = webhook.sweep_interval.count();

  // Options visible everywhere: flag name == config-file key == TALLY_<NAME>.
  po::options_description options("Options (flags; config file keys; TALLY_<NAME> variables)");
  options.add_options()
    ("help,h", "print this help")
    ("tenant-modules", po::value(&tenant_modules)->default_value(tenant_modules),
     "comma-separated module catalog for tenants")
    ("reserved-subdomains", po::value(&reserved_subdomains)->default_value(reserved_subdomains),
     "comma-separated subdomains no tenant may take")
    ("trial-days", po::value(&trial_days)->default_value(trial_days),
     "length of the trial a module activation starts")
    ("subdomain-reservation-ttl-ms", po::value(&reservation_ttl_ms)->default_value(reservation_ttl_ms),
     "a subdomain reservation not committed within this is given up")
    ("config", po::value(&config_file), "config file with `name = value` lines")
    ("http-host", po::value(&s.http.host)->default_value(s.http.host), "listen address")
    ("http-port", po::value(&http_port)->default_value(http_port), "listen port (0 = any free port)")
    ("db", po::value(&s.db_url)->default_value(s.db_url), "sqlite:<path> or postgresql://...")
    ("dev", po::value(&s.http.dev)->implicit_value(true)->default_value(false),
     "dev mode: debug tokens in responses, random JWT secret if none")
    ("jwt-secret", po::value(&s.http.jwt_secret), "HS256 key for access tokens (required unless --dev)")
    ("admin-token", po::value(&s.http.admin_token), "bearer token for /v1/admin/* (none = admin API off)")
    ("webhook-secret", po::value(&s.webhook_secret), "payment webhook signing secret")
    ("webhook-tolerance-s", po::value(&webhook_tolerance_s)->default_value(webhook_tolerance_s),
     "a webhook signature's timestamp may be this far from now, either way")
    ("webhook-retention-s", po::value(&webhook_retention_s)->default_value(webhook_retention_s),
     "payment event dedupe records are kept this long")
    ("webhook-sweep-interval-ms", po::value(&webhook_sweep_interval_ms)
       ->default_value(webhook_sweep_interval_ms), "expired webhook dedupe records are deleted this often")
    ("webhook-waiting-max", po::value(&webhook.waiting_deliveries_max)
       ->default_value(webhook.waiting_deliveries_max),
     "deliveries of one event waiting behind its first before 503")
    ("ack", po::value(&ack)->default_value(ack), "commit (2xx after the commit) or memory")
    ("cors-origins", po::value(&cors), "comma-separated allowed CORS origins")
    ("log-level", po::value(&s.log_level)->default_value(s.log_level), "debug, info, warn or error")
    ("access-log", po::value(&s.http.access_log)->default_value(true), "one JSON line per request")
    ("io-threads", po::value(&s.http.io_threads)->default_value(s.http.io_threads), "Asio threads")
    ("workers", po::value(&s.worker_threads)->default_value(s.worker_threads), "CAF scheduler threads")
    ("body-limit-bytes", po::value(&s.http.body_bytes_max)->default_value(s.http.body_bytes_max),
     "largest request body (413 above)")
    ("read-timeout-ms", po::value(&read_timeout_ms)->default_value(read_timeout_ms),
     "a request must arrive within this")
    ("idle-timeout-ms", po::value(&idle_timeout_ms)->default_value(idle_timeout_ms),
     "idle keep-alive connections close after this")
    ("request-deadline-ms", po::value(&request_deadline_ms)->default_value(request_deadline_ms),
     "503 when the actors have not answered by then")
    ("connections-max", po::value(&s.http.connections_max)->default_value(s.http.connections_max),
     "open connections at most")
    ("connections-per-ip-max", po::value(&s.http.connections_per_ip_max)
       ->default_value(s.http.connections_per_ip_max), "open connections per client IP at most")
    ("buffered-bytes-max", po::value(&s.http.buffered_bytes_max)
       ->default_value(s.http.buffered_bytes_max),
     "bytes held for requests and responses in flight, all connections together (503 above)")
    ("passivate-after-ms", po::value(&passivate_after_ms)->default_value(passivate_after_ms),
     "idle entity actors are passivated after this")
    ("backlog-max", po::value(&s.runtime.backlog_records_max)->default_value(s.runtime.backlog_records_max),
     "write-behind records waiting for a commit before 503 OVERLOADED")
    ("write-batch-max", po::value(&s.runtime.write_batch_records_max)
       ->default_value(s.runtime.write_batch_records_max), "records per transaction at most")
    ("user-pending-max", po::value(&s.runtime.user_pending_replies_max)
       ->default_value(s.runtime.user_pending_replies_max), "uncommitted replies per user before 503")
    ("idempotency-cache-max", po::value(&s.runtime.idempotency_cached_max)
       ->default_value(s.runtime.idempotency_cached_max), "idempotency records kept in memory per user")
    ("magic-link-ttl-s", po::value(&magic_link_ttl_s)->default_value(magic_link_ttl_s),
     "magic-link tokens expire after this")
    ("magic-link-url", po::value(&auth.magic_link_url)->default_value(auth.magic_link_url),
     "link written to the outbox; {token} is replaced")
    ("code-ttl-s", po::value(&code_ttl_s)->default_value(code_ttl_s), "phone codes expire after this")
    ("code-backoff-ms", po::value(&code_backoff_ms)->default_value(code_backoff_ms),
     "after failure n the next code attempt waits this * 2^(n-1)")
    ("code-failures-max", po::value(&auth.code_failures_max)->default_value(auth.code_failures_max),
     "failed attempts that burn a code (CODE_LOCKED)")
    ("code-pepper", po::value(&auth.code_pepper),
     "HMAC key for stored code hashes (default: derived from the JWT secret)")
    ("refresh-grace-s", po::value(&refresh_grace_s)->default_value(refresh_grace_s),
     "a rotated-out refresh token returns the current one within this")
    ("session-ttl-s", po::value(&session_ttl_s)->default_value(session_ttl_s),
     "sessions expire this long after their last refresh")
    ("rate-magic-link-per-email", po::value(&rate_magic_link_per_email)
       ->default_value(rate_magic_link_per_email), "magic-link requests per minute per email")
    ("rate-magic-link-per-ip", po::value(&rate_magic_link_per_ip)->default_value(rate_magic_link_per_ip),
     "magic-link requests per minute per client IP")
    ("rate-code-per-phone", po::value(&rate_code_per_phone)->default_value(rate_code_per_phone),
     "code requests per minute per phone")
    ("rate-refresh-per-session", po::value(&rate_refresh_per_session)
       ->default_value(rate_refresh_per_session), "refreshes per minute per session")
    ("rate-magic-link-verify-per-ip", po::value(&rate_magic_link_verify_per_ip)
       ->default_value(rate_magic_link_verify_per_ip), "magic-link verifies per minute per client IP")
    ("rate-code-per-ip", po::value(&rate_code_per_ip)->default_value(rate_code_per_ip),
     "code requests (SMS) per minute per client IP")
    ("rate-code-verify-per-ip", po::value(&rate_code_verify_per_ip)
       ->default_value(rate_code_verify_per_ip), "code verifies per minute per client IP")
    ("rate-refresh-per-ip", po::value(&rate_refresh_per_ip)->default_value(rate_refresh_per_ip),
     "refreshes per minute per client IP")
    ("rate-audit-login-failures", po::value(&rate_audit_login_failures)
       ->default_value(rate_audit_login_failures),
     "audit rows for failed logins per minute, node-wide (beyond: dropped and counted)")
    ("unknown-identities-cached-max", po::value(&auth.unknown_identities_cached_max)
       ->default_value(auth.unknown_identities_cached_max),
     "identities the login gate remembers as never requested")
    ("trust-forwarded-for", po::value(&s.http.trust_forwarded_for)->implicit_value(true)
       ->default_value(false), "take the client IP from X-Forwarded-For (behind a trusted proxy only)")
    ("web-app", po::value(&web_app)->default_value(web_app),
     "serve the example web page at /app/: auto (on in dev mode), 1 or 0")
    ("web-dir", po::value(&web_dir)->default_value(web_dir), "the example web page's folder")
    ("shutdown-drain-ms", po::value(&s.shutdown_drain_ms)->default_value(s.shutdown_drain_ms),
     "SIGTERM: time for in-flight requests")
    ("shutdown-flush-ms", po::value(&s.shutdown_flush_ms)->default_value(s.shutdown_flush_ms),
     "SIGTERM: time for the final write-behind flush");

  generation_options generations;
  add_generation_options(options, generations, s);
  cluster_options cluster;
  add_cluster_options(options, cluster, s);
  forwarding_options forwarding;
  add_forwarding_options(options, forwarding, s);

  // Only on the command line: the sub-command and its arguments.
  po::options_description command_options("Command arguments");
  command_options.add_options()
    ("command", po::value(&command_name), "serve | migrate | create-user | mint-token")
    ("id", po::value(&s.user_id), "create-user: the user's UUID (random if absent)")
    ("user", po::value(&s.user_id), "mint-token: the user's UUID")
    ("email", po::value(&s.email), "create-user: email")
    ("phone", po::value(&s.phone), "create-user: E.164 phone")
    ("ttl-s", po::value(&s.token_ttl_s)->default_value(s.token_ttl_s), "mint-token: lifetime");
  po::positional_options_description positional;
  positional.add("command", 1);

  settings_result result;
  try {
    po::options_description command_line;
    command_line.add(options).add(command_options);
    po::variables_map values;
    // The first stored value wins, so store in precedence order.
    // TALLY_* variables that name no option (a test harness's own) are ignored.
    auto known_option = [&options](const std::string& variable) -> std::string {
      auto name = environment_to_option(variable);
      return !name.empty() && options.find_nothrow(name, false) ? name : std::string{};
    };
    po::store(po::parse_environment(options, known_option), values);
    po::store(po::command_line_parser(argc, argv).options(command_line).positional(positional).run(),
              values);
    if (values.count("config")) {
      std::ifstream file(values["config"].as<std::string>());
      if (!file) {
        result.error = "cannot read config file " + values["config"].as<std::string>();
        return result;
      }
      po::store(po::parse_config_file(file, options), values);
    }
    if (values.count("help")) {
      std::ostringstream text;
      text << "usage: tally [serve|migrate|create-user|mint-token] [options]\n"
           << options << command_options;
      result.help_requested = true;
      result.help_text = text.str();
      return result;
    }
    po::notify(values);
  } catch (const po::error& e) {
    result.error = e.what();
    return result;
  }

  auto command = parse_command(command_name);
  if (!command) {
    result.error = "unknown command '" + command_name + "' (serve, migrate, create-user, mint-token)";
    return result;
  }
  s.command = *command;
  if (http_port < 0 || http_port > 65535) {
    result.error = "http-port must be 0..65535";
    return result;
  }
  s.http.port = static_cast<uint16_t>(http_port);
  if (ack == "commit") {
    s.runtime.ack = ack_mode::commit;
  } else if (ack == "memory") {
    s.runtime.ack = ack_mode::memory;
  } else {
    result.error = "ack must be 'commit' or 'memory', not '" + ack + "'";
    return result;
  }
  for (auto [name, value] : {std::pair{"read-timeout-ms", read_timeout_ms},
                             std::pair{"idle-timeout-ms", idle_timeout_ms},
                             std::pair{"request-deadline-ms", request_deadline_ms},
                             std::pair{"passivate-after-ms", passivate_after_ms}}) {
    if (value <= 0) {
      result.error = std::string(name) + " must be > 0";
      return result;
    }
  }
  if (s.http.io_threads < 1 || s.worker_threads < 1) {
    result.error = "io-threads and workers must be >= 1";
    return result;
  }
  if (s.runtime.backlog_records_max < 1 || s.runtime.write_batch_records_max < 1
      || s.runtime.user_pending_replies_max < 1) {
    result.error = "backlog-max, write-batch-max and user-pending-max must be >= 1";
    return result;
  }
  for (auto [name, value] : {std::pair{"magic-link-ttl-s", magic_link_ttl_s},
                             std::pair{"code-ttl-s", code_ttl_s},
                             std::pair{"code-backoff-ms", code_backoff_ms},
                             std::pair{"refresh-grace-s", refresh_grace_s},
                             std::pair{"session-ttl-s", session_ttl_s},
                             std::pair{"rate-magic-link-per-email", rate_magic_link_per_email},
                             std::pair{"rate-magic-link-per-ip", rate_magic_link_per_ip},
                             std::pair{"rate-code-per-phone", rate_code_per_phone},
                             std::pair{"rate-refresh-per-session", rate_refresh_per_session},
                             std::pair{"rate-magic-link-verify-per-ip", rate_magic_link_verify_per_ip},
                             std::pair{"rate-code-per-ip", rate_code_per_ip},
                             std::pair{"rate-code-verify-per-ip", rate_code_verify_per_ip},
                             std::pair{"rate-refresh-per-ip", rate_refresh_per_ip},
                             std::pair{"rate-audit-login-failures", rate_audit_login_failures},
                             std::pair{"code-failures-max", int64_t{auth.code_failures_max}}}) {
    if (value <= 0) {
      result.error = std::string(name) + " must be > 0";
      return result;
    }
  }
  if (s.http.connections_max < 1 || s.http.connections_per_ip_max < 1) {
    result.error = "connections-max and connections-per-ip-max must be >= 1";
    return result;
  }
  if (s.http.buffered_bytes_max < s.http.one_request_bytes_max()) {
    result.error = "buffered-bytes-max must hold at least one whole request (" +
                   std::to_string(s.http.one_request_bytes_max()) + " bytes)";
    return result;
  }
  if (auth.magic_link_url.find("{token}") == std::string::npos) {
    result.error = "magic-link-url must contain {token}";
    return result;
  }
  static const std::vector<std::string> levels{"debug", "info", "warn", "error"};
  if (std::find(levels.begin(), levels.end(), s.log_level) == levels.end()) {
    result.error = "log-level must be debug, info, warn or error";
    return result;
  }
  if (auto error = apply_generation_options(generations, s); !error.empty()) {
    result.error = std::move(error);
    return result;
  }
  if (auto error = apply_cluster_options(cluster, s); !error.empty()) {
    result.error = std::move(error);
    return result;
  }
  s.http.read_timeout = std::chrono::milliseconds(read_timeout_ms);
  s.http.idle_timeout = std::chrono::milliseconds(idle_timeout_ms);
  s.http.request_deadline = std::chrono::milliseconds(request_deadline_ms);
  s.runtime.passivate_after = std::chrono::milliseconds(passivate_after_ms);
  if (auto error = apply_forwarding_options(forwarding, s); !error.empty()) {
    result.error = std::move(error);
    return result;
  }
  s.http.cors_origins = split_origins(cors);
  if (auto error = resolve_web_page(web_app, web_dir, s.http); !error.empty()) {
    result.error = error;
    return result;
  }
  auth.dev = s.http.dev;
  auth.magic_link_ttl = std::chrono::seconds(magic_link_ttl_s);
  auth.code_ttl = std::chrono::seconds(code_ttl_s);
  auth.code_backoff_base = std::chrono::milliseconds(code_backoff_ms);
  auth.refresh_grace = std::chrono::seconds(refresh_grace_s);
  auth.session_ttl = std::chrono::seconds(session_ttl_s);
  auth.magic_link_per_email.count = rate_magic_link_per_email;
  auth.magic_link_per_ip.count = rate_magic_link_per_ip;
  auth.code_per_phone.count = rate_code_per_phone;
  auth.refresh_per_session.count = rate_refresh_per_session;
  auth.magic_link_verify_per_ip.count = rate_magic_link_verify_per_ip;
  auth.code_per_ip.count = rate_code_per_ip;
  auth.code_verify_per_ip.count = rate_code_verify_per_ip;
  auth.refresh_per_ip.count = rate_refresh_per_ip;
  auth.audit_login_failures.count = rate_audit_login_failures;
  tenants.modules = split_origins(tenant_modules);
  tenants.reserved_subdomains = split_origins(reserved_subdomains);
  if (tenants.modules.empty() || trial_days <= 0 || reservation_ttl_ms <= 0) {
    result.error = "tenant-modules must name a module; trial-days and subdomain-reservation-ttl-ms must be > 0";
    return result;
  }
  tenants.trial_length = std::chrono::hours(24 * trial_days);
  tenants.reservation_ttl = std::chrono::milliseconds(reservation_ttl_ms);
  s.http.tenants = tenants;
  for (auto [name, value] : {std::pair{"webhook-tolerance-s", webhook_tolerance_s},
                             std::pair{"webhook-retention-s", webhook_retention_s},
                             std::pair{"webhook-sweep-interval-ms", webhook_sweep_interval_ms},
                             std::pair{"webhook-waiting-max", static_cast<int64_t>(webhook.waiting_deliveries_max)}}) {
    if (value <= 0) {
      result.error = std::string(name) + " must be > 0";
      return result;
    }
  }
  webhook.secret = s.webhook_secret;
  webhook.tolerance = std::chrono::seconds(webhook_tolerance_s);
  webhook.retention = std::chrono::seconds(webhook_retention_s);
  webhook.sweep_interval = std::chrono::milliseconds(webhook_sweep_interval_ms);
  s.http.webhook = webhook;
  result.value = std::move(s);
  return result;
}

} // namespace tally
