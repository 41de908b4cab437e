#include "tests/support/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <system_error>
#include <thread>

#include "tests/support/files.h"

extern char** environ;

namespace imgsearchd::test {

namespace fs = std::filesystem;

namespace {

std::string name_of(const std::string& assignment) { return assignment.substr(0, assignment.find('=')); }

// The test's environment with `changes` applied, as NAME=value strings.
std::vector<std::string> child_environment(const Environment& changes) {
  std::vector<std::string> names;
  for (const std::string& unset : changes.unset) names.push_back(unset);
  for (const std::string& set : changes.set) names.push_back(name_of(set));
  std::vector<std::string> result;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string assignment = *entry;
    bool changed = false;
    for (const std::string& name : names) changed = changed || name_of(assignment) == name;
    if (!changed) result.push_back(assignment);
  }
  result.insert(result.end(), changes.set.begin(), changes.set.end());
  return result;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

void redirect(posix_spawn_file_actions_t& actions, int fd, const fs::path& file, bool append) {
  posix_spawn_file_actions_addopen(&actions, fd, file.empty() ? "/dev/null" : file.c_str(),
                                   O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
}

}  // namespace

nlohmann::json CommandResult::json() const {
  try {
    return nlohmann::json::parse(out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << out << "\nstderr:\n" << err;
    return {};
  }
}

Process::Process(const std::vector<std::string>& argv, const Options& options) {
  EXPECT_FALSE(options.pipe_stdout && options.pipe_stderr) << "Process pipes one stream at most";
  int pipe_fds[2] = {-1, -1};
  const bool piped = options.pipe_stdout || options.pipe_stderr;
  if (piped && ::pipe(pipe_fds) != 0) {
    ADD_FAILURE() << "pipe: " << std::strerror(errno);
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (options.pipe_stdout) {
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  } else {
    redirect(actions, STDOUT_FILENO, options.stdout_file, options.append);
  }
  if (options.stderr_to_stdout) {
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  } else if (options.pipe_stderr) {
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  } else {
    redirect(actions, STDERR_FILENO, options.stderr_file, options.append);
  }
  if (piped) {
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  }
  std::vector<std::string> args = argv;
  std::vector<std::string> environment = child_environment(options.environment);
  std::vector<char*> arg_pointers = c_strings(args);
  std::vector<char*> environment_pointers = c_strings(environment);
  const int spawned = posix_spawnp(&pid_, args.at(0).c_str(), &actions, nullptr, arg_pointers.data(),
                                  environment_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  if (piped) {
    ::close(pipe_fds[1]);
    pipe_ = ::fdopen(pipe_fds[0], "r");
  }
  if (spawned != 0) {
    ADD_FAILURE() << "cannot start " << args[0] << ": " << std::strerror(spawned);
    pid_ = -1;
  }
}

Process::~Process() {
  if (running()) kill();
  if (pipe_ != nullptr) std::fclose(pipe_);
}

bool Process::read_line(std::string& line) {
  line.clear();
  if (pipe_ == nullptr) return false;
  char buffer[4096];
  while (std::fgets(buffer, sizeof buffer, pipe_) != nullptr) {
    line += buffer;
    if (line.back() == '\n') return true;
  }
  return !line.empty();
}

int Process::stop(int signal) {
  if (running()) ::kill(pid_, signal);
  return wait();
}

int Process::kill() { return stop(SIGKILL); }

int Process::wait() {
  if (pid_ <= 0 || reaped_) return exit_code_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  term_signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + term_signal_;
  return exit_code_;
}

bool Process::ended() {
  if (pid_ <= 0 || reaped_) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  reaped_ = true;
  term_signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + term_signal_;
  return true;
}

int Process::wait_for(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!ended()) {
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exit_code_;
}

CommandResult run_command(const std::vector<std::string>& argv, const fs::path& scratch,
                          const Environment& environment) {
  Process::Options options;
  options.stdout_file = scratch / "stdout.txt";
  options.stderr_file = scratch / "stderr.txt";
  options.environment = environment;
  CommandResult result;
  {
    Process process(argv, options);
    if (!process.running()) return result;
    result.exit_code = process.wait();
  }
  result.out = read_text(options.stdout_file);
  result.err = read_text(options.stderr_file);
  return result;
}

CommandResult run_imgsearchd(const std::vector<std::string>& args, const fs::path& scratch,
                             const Environment& environment) {
  std::vector<std::string> argv = {IMGSEARCHD_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, scratch, environment);
}

std::vector<std::string> imgsearchd_argv(const fs::path& config, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {IMGSEARCHD_BINARY, "--config", config.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

CommandResult run_imgsearchd(const fs::path& config, const std::vector<std::string>& args, const fs::path& scratch) {
  return run_command(imgsearchd_argv(config, args), scratch);
}

}  // namespace imgsearchd::test
