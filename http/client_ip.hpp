#pragma once
// The client IP a request is attributed to, for per-IP rate limits and the
// audit log. By default it is the socket's peer address. Behind a reverse
// proxy every peer is the proxy, so with trust_forwarded_for the first
// X-Forwarded-For entry (the original client, as the proxy saw it) is used
// instead; only the operator can know the proxy overwrites that header, so it
// is off by default: otherwise any client could pick its own IP and slip
// past the per-IP limit.
#include <cstddef>
#include <string>
#include <string_view>

namespace tally {

/// Longer X-Forwarded-For entries are not addresses (an IPv6 text form is at
/// most 45 characters; a bracketed one with a port ~53).
inline constexpr size_t forwarded_for_entry_chars_max = 64;

/// The address's canonical text ("10.0.0.1", "2001:db8::1"; an IPv4-mapped
/// IPv6 address as IPv4), or empty when `text` is not an IP address.
std::string canonical_ip(std::string_view text);

/// The client IP: the first X-Forwarded-For entry when `trust_forwarded_for`
/// and that entry is an IP address (optionally "[v6]" or "v4:port"), else
/// `peer_ip` (canonical_ip of the socket's peer, computed once per
/// connection), else "unknown". Without trust nothing is parsed: this runs
/// on every request.
std::string client_ip_of(std::string_view peer_ip, std::string_view forwarded_for,
                         bool trust_forwarded_for);

} // namespace tally
