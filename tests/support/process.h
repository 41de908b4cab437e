// Running programs from tests, above all the real imgsearchd binary: one way
// to run a command to its end (stdout and stderr captured in files, no pipes
// to fill up, the exit code returned), and one way to start a long-running
// process, read one of its streams line by line, and stop or kill it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imgsearchd::test {

// Changes to the test's own environment for a child.
struct Environment {
  std::vector<std::string> set;    // "NAME=value", replacing NAME if it is set
  std::vector<std::string> unset;  // names
};

struct CommandResult {
  int exit_code = -1;  // 128 + the signal if one ended it
  std::string out;
  std::string err;

  // stdout as JSON; a test failure (naming what came) if it is not JSON.
  nlohmann::json json() const;
};

// Runs argv (argv[0] a path, or a name looked up in PATH) to its end, stdin from /dev/null; `scratch`
// holds the captured stdout.txt and stderr.txt.
CommandResult run_command(const std::vector<std::string>& argv, const std::filesystem::path& scratch,
                          const Environment& environment = {});

// The real binary: imgsearchd ARGS...
CommandResult run_imgsearchd(const std::vector<std::string>& args, const std::filesystem::path& scratch,
                             const Environment& environment = {});

// argv for the binary with a configuration file: imgsearchd --config CONFIG ARGS...
std::vector<std::string> imgsearchd_argv(const std::filesystem::path& config, const std::vector<std::string>& args);

// imgsearchd --config CONFIG ARGS... to its end.
CommandResult run_imgsearchd(const std::filesystem::path& config, const std::vector<std::string>& args,
                             const std::filesystem::path& scratch);

// A process that runs while the test goes on. Each of stdout and stderr goes
// to a file, or to a pipe the test reads with read_line (at most one of the
// two piped); stdin is /dev/null. The destructor kills (SIGKILL) and reaps a
// process still running.
class Process {
 public:
  struct Options {
    std::filesystem::path stdout_file;  // empty: /dev/null (unless piped)
    std::filesystem::path stderr_file;  // empty: /dev/null (unless piped)
    bool pipe_stdout = false;
    bool pipe_stderr = false;
    bool stderr_to_stdout = false;  // stderr where stdout goes (file or pipe)
    bool append = false;            // add to the files instead of replacing them
    Environment environment;
  };

  // Starts argv; a failure to start fails the test (and running() is false).
  Process(const std::vector<std::string>& argv, const Options& options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !reaped_; }

  // The next line of the piped stream, '\n' included; false at its end.
  bool read_line(std::string& line);

  // Sends `signal`, waits for the end, returns the exit code (128 + signal).
  int stop(int signal);
  int kill();  // stop(SIGKILL)

  // Waits for the end; the exit code (128 + the signal if one ended it).
  int wait();
  // Waits at most `deadline` (checking every 20 ms); the exit code, or -1 if
  // it is still running then.
  int wait_for(std::chrono::milliseconds deadline);
  // Without waiting: true if it has ended (it is then reaped).
  bool ended();
  // After wait: the signal that ended it, 0 if it exited.
  int term_signal() const { return term_signal_; }

 private:
  pid_t pid_ = -1;
  FILE* pipe_ = nullptr;
  bool reaped_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
};

}  // namespace imgsearchd::test
