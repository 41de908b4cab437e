// imgsearchd: one binary, many subcommands. Each command family lives in its
// own cmd_*.cpp; this file only wires them together and turns escaping errors
// into one clear message and a non-zero exit.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "daemon/commands/app.h"
#include "indexer/model/blas_check.h"
#include "indexer/pipeline/malloc_arenas.h"
#include "store/core/errors.h"
#include "store/core/version.h"

namespace imgsearchd {

const Config& AppContext::config() {
  if (!config_) config_ = load_config_for_cli(config_file);
  return *config_;
}

void AppContext::apply_log_level(bool quiet) {
  if (verbose) {
    spdlog::set_level(spdlog::level::debug);
    return;
  }
  const spdlog::level::level_enum configured = spdlog::level::from_str(config().log.level);
  spdlog::set_level(quiet ? std::max(configured, spdlog::level::warn) : configured);
}

// The CLI side of the error policy (store/core/errors.h).
int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
    case ErrorKind::too_large: return 2;
    case ErrorKind::not_found:
    case ErrorKind::busy:
    case ErrorKind::unavailable: return 1;
    case ErrorKind::internal: return 70;
  }
  return 1;
}

// `imgsearchd index` and `serve` run the model's OpenMP threads beside the decode
// workers. With libgomp's default wait policy, a model thread that reaches a
// barrier spins while its partner is descheduled (by a decoder or another
// process): bench/indexing_bench.sh measured 2.4x the model's CPU time per
// image that way on a shared 2-core machine, and indexing at up to 3.5x the
// images/s with OMP_WAIT_POLICY=PASSIVE (README, Performance). libgomp reads
// the variable only when it loads, so it is set here and the binary
// re-executed, once, and only for `index` and `serve` (whose searches also run
// the model beside indexing) and when neither OMP_WAIT_POLICY
// nor GOMP_SPINCOUNT was set by the user.
void prefer_passive_openmp_wait_for_indexing(int argc, char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  // The subcommand is the first word that is neither an option nor the
  // value of -c/--config.
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "-c" || word == "--config") {
      ++i;
      continue;
    }
    if (!word.empty() && word[0] == '-') continue;
    if (word != "index" && word != "serve") return;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    std::fflush(nullptr);
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY");  // could not re-execute: go on as we are
    return;
  }
}

}  // namespace imgsearchd

int main(int argc, char** argv) {
  using namespace imgsearchd;
  prefer_passive_openmp_wait_for_indexing(argc, argv);
  // Before any thread starts, so that every thread shares the two arenas
  // (indexer/pipeline/malloc_arenas.h: decoders otherwise keep their peaks).
  limit_malloc_arenas();
  // First, before any thread starts: may re-execute the binary once so that
  // OpenBLAS loads with the best kernels this CPU supports. Its start-up
  // check starts OpenBLAS's thread pool, and those threads keep the signal
  // mask they start with: they must block the signals `serve` waits for
  // (and `index` handles on this thread), or SIGTERM reaching one of them
  // would end the process with its default action instead of a clean stop.
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, signal);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  select_blas_kernels(argv);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  // Logs go to stderr (journald collects it); stdout is for results.
  spdlog::default_logger()->sinks() = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  CLI::App app{"imgsearchd: semantic search over your image folders"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("imgsearchd ") + kVersion);

  AppContext context;
  app.add_option("-c,--config", context.config_file, "configuration file (YAML)");
  app.add_flag("-v,--verbose", context.verbose, "more log output");

  register_model_commands(app, context);
  register_embed_command(app, context);
  register_index_command(app, context);
  register_search_commands(app, context);
  register_status_command(app, context);
  register_serve_command(app, context);
  register_duplicates_command(app, context);
  register_eval_command(app, context);
  register_rescan_command(app, context);
  register_store_commands(app, context);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const Error& e) {
    std::fprintf(stderr, "imgsearchd: %s\n", e.what());
    return exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imgsearchd: %s\n", e.what());
    return 1;
  }
  return 0;
}
