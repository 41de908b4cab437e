// Helpers for tests that build real files in the test work folder.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

namespace imgsearchd::testing {

// A fresh, empty folder per test: <work dir>/<suite>/<test>.
inline std::filesystem::path fresh_test_folder() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path folder =
      std::filesystem::path(IMGSEARCHD_TEST_WORK_DIR) / info->test_suite_name() / info->name();
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  std::filesystem::permissions(folder, std::filesystem::perms(0755));
  return folder;
}

// Writes `content` to `file`, creating the folders above it.
inline void write_file(const std::filesystem::path& file, const std::string& content = "x") {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << "cannot write " << file;
}

// The result of running a check in a child process.
struct ChildOutcome {
  bool ran = false;      // false: the child could not take the unprivileged user
  std::string failure;   // empty when the check passed
};

// Permission tests mean nothing to root, who reads everything: when running as
// root, the check runs in a child process that has become `nobody`. The check
// returns an empty string on success, else what was wrong.
inline ChildOutcome run_unprivileged(const std::function<std::string()>& check) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {true, "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)) {
      ::_exit(77);
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
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return {false, ""};
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (failure.empty()) failure = "the child process failed without saying why";
  }
  return {true, failure};
}

}  // namespace imgsearchd::testing
