#include "tests/support/unprivileged.h"

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

namespace imgsearchd::test {

namespace {
constexpr uid_t kNobody = 65534;
constexpr int kCouldNotDropPrivileges = 77;
}  // namespace

ChildOutcome run_unprivileged(const std::function<std::string()>& check) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {true, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid < 0) return {true, "fork failed"};
  if (pid == 0) {
    ::close(pipe_fds[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) {
      ::_exit(kCouldNotDropPrivileges);
    }
    const std::string failure = check();
    if (!failure.empty()) {
      ssize_t ignored = ::write(pipe_fds[1], failure.data(), failure.size());
      (void)ignored;
    }
    ::_exit(failure.empty() ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  std::string failure;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) failure.append(buffer, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == kCouldNotDropPrivileges) return {false, ""};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (failure.empty()) failure = "the child process failed without saying why";
  }
  return {true, failure};
}

}  // namespace imgsearchd::test
