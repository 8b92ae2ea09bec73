#include "http/client_ip.hpp"

#include "http/field_value.hpp"

#include <boost/asio/ip/address.hpp>

namespace tally {

namespace {

/// What an address nobody knows is called in the audit log.
constexpr std::string_view unknown_ip = "unknown";

/// "[2001:db8::1]:443" -> "2001:db8::1"; "10.0.0.1:8080" -> "10.0.0.1".
/// Proxies differ in whether they add the port (RFC 7239 quotes it; some
/// X-Forwarded-For writers append it), the address is what matters.
std::string_view strip_port(std::string_view entry) {
  if (!entry.empty() && entry.front() == '[') {
    auto close = entry.find(']');
    if (close == std::string_view::npos) return {};
    return entry.substr(1, close - 1);
  }
  auto colon = entry.find(':');
  // Exactly one colon: IPv4 with a port. Several: a bare IPv6 address.
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos)
    return entry.substr(0, colon);
  return entry;
}

} // namespace

std::string canonical_ip(std::string_view text) {
  if (text.empty() || text.size() > forwarded_for_entry_chars_max) return {};
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return {};
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6())
      .to_string();
  return address.to_string();
}

std::string client_ip_of(std::string_view peer_ip, std::string_view forwarded_for,
                         bool trust_forwarded_for) {
  if (trust_forwarded_for) {
    auto first = trim_ows(forwarded_for.substr(0, forwarded_for.find(',')));
    if (first.size() <= forwarded_for_entry_chars_max) {
      auto forwarded = canonical_ip(strip_port(first));
      if (!forwarded.empty()) return forwarded;
    }
  }
  return std::string(peer_ip.empty() ? unknown_ip : peer_ip);
}

} // namespace tally
