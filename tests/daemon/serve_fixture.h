// The service tests' fixture: the real `imgsearchd serve` started on
// temporary folders with a small random-weights CLIP model (the
// indexing_models fixture), its state read from what a user can read: the
// service's status file, the catalogue (read-only) and the CLI. Every wait
// is for a condition, with a deadline; nothing asserts on elapsed time.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "tests/support/files.h"
#include "tests/support/photos.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/process.h"
#include "tests/support/scratch.h"
#include "store/catalog/catalog.h"
#include "store/data/data_dir.h"

namespace imgsearchd::test {

inline const fs::path kModelA = indexing_model(1);
inline const std::chrono::seconds kDeadline{90};

// One running `imgsearchd serve` (a tests/support Process), its stdout and
// stderr in one log file, without the test's NOTIFY_SOCKET.
class ServeProcess {
 public:
  void start(const fs::path& config, const fs::path& log, const std::vector<std::string>& extra_env = {}) {
    log_ = log;
    Process::Options options;
    options.stdout_file = log;
    options.stderr_to_stdout = true;
    options.append = true;
    options.environment = {extra_env, {"NOTIFY_SOCKET"}};
    process_ = std::make_unique<Process>(imgsearchd_argv(config, {"serve"}), options);
    ASSERT_TRUE(process_->running()) << "cannot start " << IMGSEARCHD_BINARY;
  }

  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool running() const { return process_ && process_->running(); }
  // Without waiting: true if it has ended.
  bool ended() { return !process_ || process_->ended(); }
  void signal(int number) const {
    if (running()) ::kill(process_->pid(), number);
  }
  std::string log() const { return read_text(log_); }

  // The exit code (128 + signal if killed), or -1 if it is still running
  // at the deadline.
  int wait_exit(std::chrono::seconds deadline = kDeadline) { return process_ ? process_->wait_for(deadline) : -1; }

  // SIGTERM, then the exit code.
  int stop() {
    signal(SIGTERM);
    return wait_exit();
  }

 private:
  std::unique_ptr<Process> process_;
  fs::path log_;
};

// Where a fixture keeps the catalogue: SQLite in the data folder (the
// default), or a fresh database on the test binary's PostgreSQL cluster.
enum class CatalogueBackend { sqlite, postgresql };

inline void PrintTo(CatalogueBackend backend, std::ostream* out) {
  *out << (backend == CatalogueBackend::sqlite ? "sqlite" : "postgresql");
}

inline std::string backend_name(const ::testing::TestParamInfo<CatalogueBackend>& info) {
  return info.param == CatalogueBackend::sqlite ? "SQLite" : "PostgreSQL";
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir("daemon");
    photos_ = dir_ / "photos";
    data_ = dir_ / "data";
    fs::create_directories(photos_);
    ASSERT_TRUE(fs::exists(kModelA)) << kModelA << " is missing: run the indexing_models test fixture";
    model_ = kModelA;
    config_ = dir_ / "config.yaml";
    roots_ = {photos_.string()};
    catalogue_ = catalog_path(data_);
    if (backend_ == CatalogueBackend::postgresql) {
      catalogue_ = CatalogLocation::postgresql(PostgresCluster::shared().create_database(), "test");
    }
    write_config();
  }

  // The configuration: data_, model_, roots_ (YAML list entries), quick
  // settling and polling, no periodic reconcile, and `extra` top-level YAML.
  void write_config(const std::string& watch_extra = "", const std::string& extra = "") {
    std::string roots;
    for (const std::string& root : roots_) roots += "    - " + root + "\n";
    write_text(config_, "data_dir: " + data_.string() +
                            "\n"
                            "model:\n"
                            "  name: " + model_.string() +
                            "\n"
                            "  threads: 1\n"
                            "  batch_size: 4\n"
                            "indexer:\n"
                            "  decode_threads: 1\n"
                            "  queue_size: 8\n"
                            "  roots:\n" +
                            roots +
                            "watch:\n"
                            "  settle_delay_ms: 100\n"
                            "  poll_interval_s: 1\n"
                            "  reconcile_interval_s: 0\n"
                            "  model_check_s: 1\n" +
                            watch_extra +
                            "api:\n"
                            "  listen: 127.0.0.1:0\n" +
                            store_config() + extra);
  }

  // The store: section for catalogue_ (nothing for SQLite, the default).
  std::string store_config() const {
    if (backend_ == CatalogueBackend::sqlite) return "";
    return "store:\n  backend: postgresql\n  postgresql:\n    dsn: \"" + catalogue_.dsn + "\"\n    source: " +
           catalogue_.source + "\n";
  }

  ServeProcess& start(const std::vector<std::string>& env = {}) {
    serve_ = std::make_unique<ServeProcess>();
    serve_->start(config_, dir_ / ("serve-" + std::to_string(++starts_) + ".log"), env);
    return *serve_;
  }

  // Starts and waits until the start-up reconcile is done.
  ServeProcess& start_ready() {
    ServeProcess& serve = start();
    wait_for("the start-up reconcile", [&] {
      const nlohmann::json s = service_status();
      // This process's status: one killed with SIGKILL leaves its last one behind.
      return s.value("pid", -1) == serve.pid() && s.value("startup_reconcile_done", false) &&
             s.value("state", "") == "watching";
    });
    return serve;
  }

  // The running service's status file ({} when there is none yet).
  nlohmann::json service_status() const {
    const std::string text = read_text(data_ / "service.json");
    nlohmann::json status = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return status.is_object() ? status : nlohmann::json::object();
  }

  uint64_t counter(const std::string& name) const {
    const nlohmann::json s = service_status();
    return s.contains("counters") ? s["counters"].value(name, uint64_t{0}) : 0;
  }

  // Waits for `condition`, checking every 20 ms, at most `deadline`. On a
  // timeout the test fails with the service's status and log.
  bool wait_for(const std::string& what, const std::function<bool()>& condition,
                std::chrono::seconds deadline = kDeadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (condition()) return true;
      if (serve_ && serve_->running() && serve_->ended()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "timed out waiting for " << what << "\nstatus: " << service_status().dump()
                  << "\ncatalogue: " << nlohmann::json(catalogue_paths()).dump()
                  << "\nlog:\n" << (serve_ ? serve_->log() : std::string());
    return false;
  }

  // Every path the catalogue holds as indexed (ok), read-only.
  std::set<std::string> catalogue_paths() const {
    std::set<std::string> paths;
    if (backend_ == CatalogueBackend::sqlite && !fs::exists(catalogue_.sqlite_file)) return paths;
    try {
      const Catalog catalog = Catalog::open_read_only(catalogue_);
      for (const std::string& path : catalog.paths_under("")) {
        const auto record = catalog.file(path);
        if (record && record->state == FileState::ok) paths.insert(path);
      }
    } catch (const std::exception&) {
      // A catalogue being created: nothing yet.
    }
    return paths;
  }

  uint64_t catalogue_generation() const {
    try {
      return Catalog::open_read_only(catalogue_).generation();
    } catch (const std::exception&) {
      return 0;
    }
  }

  // Waits until the catalogue holds exactly `paths` and the service has
  // nothing left to do (no changes waiting, every indexed file searchable).
  void wait_for_catalogue(const std::set<std::string>& paths) {
    wait_for("the catalogue to hold " + nlohmann::json(paths).dump(), [&] {
      if (catalogue_paths() != paths) return false;
      // The status must be the service's view after the last commit.
      const nlohmann::json s = service_status();
      if (s.value("generation", uint64_t{0}) != catalogue_generation()) return false;
      return s.value("state", "") == "watching" && s.value("pending_paths", 1) == 0 &&
             s.value("files_ok", uint64_t{0}) == paths.size() &&
             (!s.value("model_loaded", false) || s.value("searchable", uint64_t{0}) == paths.size());
    });
  }

  std::set<std::string> paths_of(const std::vector<fs::path>& files) const {
    std::set<std::string> paths;
    for (const fs::path& file : files) paths.insert(file.string());
    return paths;
  }

  CommandResult cli(const std::vector<std::string>& args) { return run_imgsearchd(config_, args, dir_); }

  // Every path `imgsearchd search --json` returns (k = 100).
  std::set<std::string> searched_paths() {
    const CommandResult result = cli({"search", "--json", "-k", "100", "a photo"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    std::set<std::string> paths;
    const nlohmann::json json = result.json();
    for (const auto& hit : json["results"])
      for (const auto& path : hit["paths"]) paths.insert(path.get<std::string>());
    if (paths.empty()) ADD_FAILURE() << "search found nothing:\n" << result.out << "\n" << result.err;
    return paths;
  }

  // The service's HTTP API (api.listen: 127.0.0.1:0, the port it chose is
  // in its status). Returns the status code and the JSON body.
  std::pair<int, nlohmann::json> http(const std::string& method, const std::string& target,
                                      const std::string& body = "") const {
    const std::string url = service_status().value("api", "");
    EXPECT_FALSE(url.empty()) << "the service's status names no API address";
    if (url.empty()) return {0, {}};
    httplib::Client client(url);
    client.set_read_timeout(30, 0);
    const httplib::Result result =
        method == "POST" ? client.Post(target, body, "application/json") : client.Get(target);
    if (!result) {
      ADD_FAILURE() << method << " " << url << target << " failed: " << httplib::to_string(result.error());
      return {0, {}};
    }
    return {result->status, nlohmann::json::parse(result->body, nullptr, /*allow_exceptions=*/false)};
  }

  CatalogueBackend backend_ = CatalogueBackend::sqlite;  // set before SetUp
  CatalogLocation catalogue_;                            // what the service's configuration names
  fs::path dir_, photos_, data_, model_;
  fs::path config_;
  std::vector<std::string> roots_;
  std::unique_ptr<ServeProcess> serve_;
  int starts_ = 0;
};

// A ServeTest run on each catalogue backend: TEST_P(...) and
// INSTANTIATE_TEST_SUITE_P(Backends, X, kBothBackends, backend_name).
class ServeBackendTest : public ServeTest, public ::testing::WithParamInterface<CatalogueBackend> {
 protected:
  void SetUp() override {
    backend_ = GetParam();
    ServeTest::SetUp();
  }
};
inline const auto kBothBackends = ::testing::Values(CatalogueBackend::sqlite, CatalogueBackend::postgresql);

// A distinct small JPEG: Pillow's 128x128 hopper with `tag` appended after
// its end-of-image marker (new content, same picture).
inline void write_small_photo(const fs::path& file, const std::string& tag) {
  fs::create_directories(file.parent_path());
  fs::copy_file(kSharedData / "pillow" / "hopper.jpg", file, fs::copy_options::overwrite_existing);
  append_bytes(file, tag);
}

// Copies COCO photo number `index` to `file` (a real multi-hundred-KB JPEG).
inline void copy_photo(size_t index, const fs::path& file) {
  fs::create_directories(file.parent_path());
  fs::copy_file(coco_photos().at(index), file, fs::copy_options::overwrite_existing);
}

}  // namespace imgsearchd::test
