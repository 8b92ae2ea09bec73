#pragma once
// Loopback peers that misbehave, for the cluster forwarder's tests: a port
// that refuses connections, and a listener that never answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace tally::test {

/// A loopback listener that never accepts: connections complete in the
/// kernel's backlog and then nothing ever answers (a frozen owner).
struct frozen_listener {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  uint16_t port = 0;
  explicit frozen_listener(bool listening = true) {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at);
    if (listening) ::listen(fd, 64);
    socklen_t size = sizeof at;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&at), &size);
    port = ntohs(at.sin_port);
  }
  ~frozen_listener() { ::close(fd); }
  frozen_listener(const frozen_listener&) = delete;
  frozen_listener& operator=(const frozen_listener&) = delete;
};

/// A loopback port that refuses connections (bound, never listened on, closed).
inline uint16_t dead_port() {
  return frozen_listener(false).port;
}

} // namespace tally::test
