// protocols/invariant: a violated invariant aborts the process, in every build
// type, with a message naming what was violated and the entity.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "protocols/invariant.hpp"

namespace {

struct death {
  bool aborted = false;
  std::string stderr_text;
};

/// Runs `body` in a child process and reports how it ended.
template <class Body>
death run_in_child(Body body) {
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    body();
    _exit(0);
  }
  close(pipe_fds[1]);
  death result;
  char buffer[512];
  ssize_t got = 0;
  while ((got = read(pipe_fds[0], buffer, sizeof buffer)) > 0) result.stderr_text.append(buffer, got);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  result.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  return result;
}

} // namespace

TEST_CASE("a violated invariant aborts and names the entity") {
  auto ended = run_in_child([] {
    long available = -1;
    TALLY_INVARIANT(available >= 0, "available >= 0", "user 1234");
  });
  CHECK(ended.aborted);
  CHECK(ended.stderr_text.find("available >= 0") != std::string::npos);
  CHECK(ended.stderr_text.find("user 1234") != std::string::npos);
}

TEST_CASE("a holding invariant costs nothing and does not evaluate the entity") {
  bool named = false;
  auto name = [&] {
    named = true;
    return "never";
  };
  TALLY_INVARIANT(1 + 1 == 2, "arithmetic", name());
  CHECK_FALSE(named);
}
