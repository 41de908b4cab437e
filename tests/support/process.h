// Runs the real imgsearchd binary for the command-line tests: with a test
// configuration file, its stdout and stderr captured in files (no pipes to
// fill up), its exit code returned.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "indexing_test_util.h"

extern char** environ;

namespace imgsearchd::test {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;

  nlohmann::json json() const {
    try {
      return nlohmann::json::parse(out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << out << "\nstderr:\n" << err;
      return {};
    }
  }
};

// argv for the binary: imgsearchd --config CONFIG ARGS...
inline std::vector<std::string> imgsearchd_argv(const fs::path& config, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {IMGSEARCHD_BINARY, "--config", config.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

inline std::vector<char*> c_argv(std::vector<std::string>& argv) {
  std::vector<char*> pointers;
  for (std::string& arg : argv) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Runs to completion; `scratch` holds the captured output files.
inline CommandResult run_imgsearchd(const fs::path& config, const std::vector<std::string>& args,
                                    const fs::path& scratch) {
  const fs::path out_file = scratch / "stdout.txt", err_file = scratch / "stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv = imgsearchd_argv(config, args);
  std::vector<char*> pointers = c_argv(argv);
  pid_t pid = 0;
  CommandResult result;
  const int spawned = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start " << argv[0];
    return result;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(out_file);
  result.err = read_text(err_file);
  return result;
}

}  // namespace imgsearchd::test
