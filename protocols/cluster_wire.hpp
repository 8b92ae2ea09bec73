#pragma once
// How a command and its answer cross between nodes (DESIGN.md "Cluster",
// docs/CLUSTER-FORWARDING.md): the body of POST /internal/v1/commands is the
// msgpack of an `envelope`, signed with an HMAC keyed from the JWT secret
// every node of a cluster shares; the answer is the msgpack of a
// `reply_body` (the result, or the failure, as data).
//
// The completion stays on the node that holds the caller: the sender keeps
// it and `deliver`s the decoded reply_body to it; the receiver makes a
// completion of the command's result type with `completion_for`, which hands
// whatever the entity answers on as a reply_body.
#include <functional>
#include <string>
#include <string_view>

#include "protocols/commands.hpp"

namespace tally {

/// The header that carries the body's HMAC (lower-case hex).
inline constexpr std::string_view cluster_auth_header = "X-Tally-Cluster-Auth";
/// The one internal route.
inline constexpr std::string_view internal_commands_path = "/internal/v1/commands";
inline constexpr std::string_view msgpack_content_type = "application/msgpack";

/// The key that signs node-to-node bodies: an HMAC of a fixed label under
/// the JWT secret, so the secret itself never signs anything but tokens.
std::string cluster_auth_key(std::string_view jwt_secret);

/// The header value for `body`: hex HMAC-SHA256 under `key`.
std::string cluster_auth_tag(std::string_view key, std::string_view body);

/// Whether `tag` is the body's tag (constant-time; a missing tag is "").
bool cluster_auth_valid(std::string_view key, std::string_view body, std::string_view tag);

/// A completion of the kind `command` needs; what the entity answers (value
/// or failure) reaches `answer` as a reply_body, exactly once. If the
/// completion is dropped unanswered, `answer` gets reply<>'s fallback.
completion completion_for(const entity_command& command, std::function<void(reply_body)> answer);

/// Answers `done` with `body`: its failure, or its value when that is the
/// result `done` waits for. A value of another type (a peer that disagrees
/// about the command) fails `done` with internal and returns false.
bool deliver(completion& done, reply_body body);

} // namespace tally
