// `imgsearchd serve` as a service: start-up reconcile and readiness, stop
// and restart, SIGTERM and SIGKILL in the middle of a batch, one service per data
// folder, configuration errors at start and at SIGHUP, and a model that
// appears while it runs.
#include <sys/socket.h>
#include <sys/un.h>

#include "serve_fixture.h"

namespace imgsearchd::test {
namespace {

class ServeServiceTest : public ServeTest {};
// The key cases, on SQLite and on PostgreSQL.
class ServeServiceBackendTest : public ServeBackendTest {};
INSTANTIATE_TEST_SUITE_P(Backends, ServeServiceBackendTest, kBothBackends, backend_name);

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const fs::path& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    fs::remove(path);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << path;
  }
  ~NotifySocket() { ::close(fd_); }
  // Everything received so far, messages separated by newlines.
  std::string received() {
    char buffer[4096];
    while (true) {
      const ssize_t got = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got <= 0) break;
      text_ += std::string(buffer, static_cast<size_t>(got)) + "\n";
    }
    return text_;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  int fd_ = -1;
  std::string text_;
};

TEST_F(ServeServiceTest, StartUpReconcileIndexesWhatIsThereAndTellsSystemdItIsReady) {
  const std::vector<fs::path> files = copy_photos(photos_, 3);
  // A short path: a socket's path is limited to 108 bytes.
  NotifySocket notify(fs::temp_directory_path() / ("imgsearchd-notify-" + std::to_string(::getpid())));
  start({"NOTIFY_SOCKET=" + notify.path().string()});
  wait_for("READY=1", [&] { return notify.received().find("READY=1") != std::string::npos; });
  wait_for_catalogue(paths_of(files));
  EXPECT_NE(notify.received().find("STATUS="), std::string::npos);
  EXPECT_EQ(searched_paths(), paths_of(files));

  const CommandResult status = cli({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const nlohmann::json json = status.json();
  EXPECT_EQ(json["service"]["pid"], serve_->pid());
  EXPECT_EQ(json["service"]["state"], "watching");
  EXPECT_EQ(json["service"]["roots"][0]["watcher"], "inotify");
  EXPECT_EQ(json["files_ok"], 3);

  // The same through HTTP: status with the service's counters, search, rescan.
  const auto [status_code, api_status] = http("GET", "/api/status");
  EXPECT_EQ(status_code, 200);
  EXPECT_EQ(api_status["state"], "watching");
  EXPECT_EQ(api_status["counters"]["embedded"], 3);
  const auto [search_code, page] = http("GET", "/api/search?q=a%20photo&k=10");
  EXPECT_EQ(search_code, 200) << page.dump();
  std::set<std::string> found;
  for (const auto& hit : page["results"]) found.insert(hit["path"].get<std::string>());
  EXPECT_EQ(found, paths_of(files));
  const auto [rescan_code, rescan] = http("POST", "/api/rescan", "{}");
  EXPECT_EQ(rescan_code, 202) << rescan.dump();
  EXPECT_EQ(rescan["roots"], nlohmann::json::array({photos_.string()}));
  wait_for("the rescan", [&] { return counter("reconciles") >= 2; });
  EXPECT_EQ(counter("embedded"), 3u) << "a rescan of an unchanged root does no work";

  EXPECT_EQ(serve_->stop(), 0);
  EXPECT_NE(notify.received().find("STOPPING=1"), std::string::npos);
  EXPECT_FALSE(fs::exists(data_ / "service.json")) << "a stopped service leaves no status behind";
  EXPECT_TRUE(cli({"status", "--json"}).json()["service"].is_null());
  fs::remove(notify.path());
}

TEST_P(ServeServiceBackendTest, ChangesMadeWhileStoppedAreFoundAtTheNextStart) {
  const std::vector<fs::path> files = copy_photos(photos_, 4);
  start_ready();
  wait_for_catalogue(paths_of(files));
  ASSERT_EQ(serve_->stop(), 0);

  // While it is down: one new, one deleted, one renamed, one modified.
  const fs::path added = photos_ / "added.jpg", renamed = photos_ / "renamed.jpg";
  copy_photo(10, added);
  fs::remove(files[0]);
  fs::rename(files[1], renamed);
  append_bytes(files[2]);
  start_ready();
  const std::set<std::string> expected = {added.string(), renamed.string(), files[2].string(), files[3].string()};
  wait_for_catalogue(expected);
  EXPECT_EQ(counter("embedded"), 2u) << "the new file and the modified one";
  EXPECT_EQ(counter("hashed"), 2u) << "the renamed file is not read";
  EXPECT_EQ(counter("removed"), 2u) << "the deleted path and the renamed file's old path";
  EXPECT_EQ(searched_paths(), expected);
  ASSERT_EQ(serve_->stop(), 0);

  // Nothing changed: the next start reads nothing.
  start_ready();
  wait_for_catalogue(expected);
  EXPECT_EQ(counter("hashed"), 0u);
  EXPECT_EQ(counter("embedded"), 0u);
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_P(ServeServiceBackendTest, SigtermDuringABatchCommitsItExitsZeroAndLosesNothing) {
  const std::vector<fs::path> files = copy_photos(photos_, 40);
  start();
  wait_for("the first batches", [&] { return counter("embedded") >= 4; });
  EXPECT_EQ(serve_->stop(), 0);
  const uint64_t first_run = [&] {
    const Catalog catalog = Catalog::open_read_only(catalogue_);
    const CatalogCounts counts = catalog.counts();
    uint64_t live = 0;
    for (const auto& [model, n] : counts.live) live += n;
    EXPECT_EQ(live, counts.files_ok) << "every committed file is searchable: no half-recorded batch";
    return counts.files_ok;
  }();
  EXPECT_GE(first_run, 4u);

  start_ready();
  wait_for_catalogue(paths_of(files));
  EXPECT_EQ(counter("embedded"), 40u - first_run) << "what was committed is not redone";
  ASSERT_EQ(serve_->stop(), 0);

  start_ready();
  wait_for_catalogue(paths_of(files));
  EXPECT_EQ(counter("hashed"), 0u) << "the next start does nothing";
  EXPECT_EQ(counter("embedded"), 0u);
  EXPECT_EQ(serve_->stop(), 0);
}

// kill -9 in the middle of indexing: what was committed stays, whole
// batches only, and the next start embeds exactly the rest.
TEST_P(ServeServiceBackendTest, SigkillDuringABatchLosesNothingCommitted) {
  const std::vector<fs::path> files = copy_photos(photos_, 40);
  start();
  wait_for("the first batches", [&] { return counter("embedded") >= 4; });
  serve_->signal(SIGKILL);
  EXPECT_EQ(serve_->wait_exit(), 128 + SIGKILL);
  const uint64_t first_run = [&] {
    const Catalog catalog = Catalog::open_read_only(catalogue_);
    const CatalogCounts counts = catalog.counts();
    uint64_t live = 0;
    for (const auto& [model, n] : counts.live) live += n;
    EXPECT_EQ(live, counts.files_ok) << "every committed file is searchable: no half-recorded batch";
    return counts.files_ok;
  }();
  EXPECT_GE(first_run, 4u);

  start_ready();
  wait_for_catalogue(paths_of(files));
  EXPECT_EQ(counter("embedded"), 40u - first_run) << "what was committed is not redone";
  EXPECT_EQ(searched_paths(), paths_of(files));
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeServiceTest, OneServicePerDataFolderAndIndexSaysTheServiceRuns) {
  copy_photos(photos_, 2);
  start_ready();
  const uint64_t generation = service_status().value("generation", uint64_t{0});

  ServeProcess second;
  second.start(config_, dir_ / "second.log");
  EXPECT_EQ(second.wait_exit(), 1);
  const std::string refused = second.log();
  EXPECT_NE(refused.find("process " + std::to_string(serve_->pid())), std::string::npos) << refused;
  EXPECT_NE(refused.find("service"), std::string::npos) << refused;

  const CommandResult index = cli({"index", photos_.string()});
  EXPECT_EQ(index.exit_code, 1);
  EXPECT_NE(index.err.find("the imgsearchd service (process " + std::to_string(serve_->pid()) + ")"),
            std::string::npos)
      << index.err;
  EXPECT_NE(index.err.find("nothing was changed"), std::string::npos) << index.err;
  EXPECT_EQ(Catalog::open_read_only(catalogue_).generation(), generation);
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeServiceTest, BadConfigurationIsRefusedAtStart) {
  write_config("  max_pending: lots\n");
  ServeProcess& serve = start();
  EXPECT_EQ(serve.wait_exit(), 2);
  EXPECT_NE(serve.log().find("'watch.max_pending' has the wrong type"), std::string::npos) << serve.log();
  EXPECT_NE(serve.log().find(config_.string()), std::string::npos) << serve.log();
}

// SIGHUP: a bad file is refused and the old configuration stays; a good one
// with a new root scans and watches it; a root removed leaves the results.
TEST_F(ServeServiceTest, SighupReloadsAndKeepsTheOldConfigurationWhenTheNewOneIsBad) {
  const fs::path first = photos_ / "first.jpg";
  copy_photo(0, first);
  start_ready();
  wait_for_catalogue({first.string()});

  const std::string good = read_text(config_);
  std::string bad = good;
  bad.replace(bad.find("settle_delay_ms: 100"), std::string("settle_delay_ms: 100").size(), "settle_delay_ms: soon");
  write_text(config_, bad);
  serve_->signal(SIGHUP);
  wait_for("the refusal", [&] { return serve_->log().find("configuration not reloaded") != std::string::npos; });
  EXPECT_NE(serve_->log().find("'watch.settle_delay_ms' has the wrong type"), std::string::npos) << serve_->log();
  const fs::path second = photos_ / "second.jpg";
  copy_photo(1, second);
  wait_for_catalogue({first.string(), second.string()});  // still watching with the old configuration

  const fs::path other = dir_ / "other";
  const fs::path elsewhere = other / "elsewhere.jpg";
  copy_photo(2, elsewhere);
  roots_.push_back(other.string());
  write_config();
  serve_->signal(SIGHUP);
  wait_for_catalogue({first.string(), second.string(), elsewhere.string()});
  const fs::path later = other / "later.jpg";
  copy_photo(3, later);
  wait_for_catalogue({first.string(), second.string(), elsewhere.string(), later.string()});

  roots_ = {other.string()};
  write_config();
  serve_->signal(SIGHUP);
  wait_for_catalogue({elsewhere.string(), later.string()});
  EXPECT_EQ(searched_paths(), (std::set<std::string>{elsewhere.string(), later.string()}));
  EXPECT_EQ(serve_->stop(), 0);
}

// No model file: the service starts, catalogues and hashes, and says what is
// missing; once the file is there it embeds everything, without a restart.
TEST_F(ServeServiceTest, ModelThatAppearsWhileRunningIsPickedUp) {
  const fs::path models = dir_ / "models";
  model_ = models / "model.safetensors";
  write_config();
  const std::vector<fs::path> files = copy_photos(photos_, 3);
  start_ready();
  wait_for_catalogue(paths_of(files));
  nlohmann::json status = service_status();
  EXPECT_FALSE(status["model_loaded"].get<bool>());
  EXPECT_NE(status["model_problem"].get<std::string>().find(model_.string()), std::string::npos) << status.dump();
  EXPECT_EQ(status["counters"]["catalogued"], 3);
  EXPECT_EQ(status["counters"]["embedded"], 0);
  EXPECT_NE(serve_->log().find(model_.string()), std::string::npos);
  const auto [code, error] = http("GET", "/api/search?q=a%20photo");
  EXPECT_EQ(code, 503) << error.dump();
  EXPECT_NE(error.dump().find(model_.string()), std::string::npos) << "the API says what is missing: " << error.dump();

  fs::create_directories(models);
  fs::copy_file(kModelA.parent_path() / "open_clip_config.json", models / "open_clip_config.json");
  fs::copy_file(kModelA, models / "model.tmp");
  fs::rename(models / "model.tmp", model_);
  wait_for("the model to be loaded and every file embedded", [&] {
    const nlohmann::json s = service_status();
    return s.value("model_loaded", false) && s.value("searchable", uint64_t{0}) == 3;
  });
  EXPECT_EQ(counter("embedded"), 3u);
  EXPECT_EQ(searched_paths(), paths_of(files));
  EXPECT_EQ(http("GET", "/api/search?q=a%20photo").first, 200);
  EXPECT_EQ(serve_->stop(), 0);
}

TEST_F(ServeServiceTest, MissingKnownModelNamesTheCommandThatInstallsIt) {
  model_ = "ViT-B-32";
  write_config();
  // model.dir: an empty folder, so the official file is surely missing.
  const std::string text = read_text(config_);
  write_text(config_, text.substr(0, text.find("  threads:")) + "  dir: " + (dir_ / "no-models").string() + "\n" +
                          text.substr(text.find("  threads:")));
  copy_photos(photos_, 1);
  start_ready();
  const nlohmann::json status = service_status();
  EXPECT_NE(status["model_problem"].get<std::string>().find("imgsearchd model pull ViT-B-32"), std::string::npos)
      << status.dump();
  EXPECT_NE(serve_->log().find("imgsearchd model pull ViT-B-32"), std::string::npos);
  const CommandResult cli_status = cli({"status"});
  EXPECT_NE(cli_status.out.find("imgsearchd model pull ViT-B-32"), std::string::npos) << cli_status.out;
  EXPECT_EQ(serve_->stop(), 0);
}

}  // namespace
}  // namespace imgsearchd::test
