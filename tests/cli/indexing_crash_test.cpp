// kill -9 at random points of a real `imgsearchd index`, several times, then
// a run to the end: after each kill the catalogue and the vector index file
// are consistent, nothing committed is lost or duplicated, the next run goes
// on from where the last stopped (committed images are not embedded again),
// and the end state equals that of a run that was never killed.
//
// The kill points come from a seeded RNG counting the run's own output (its
// per-commit log lines with --verbose), never from wall-clock sleeps.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cli_fixture.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"

namespace imgsearchd::test {
namespace {

// 60 distinct photos, 4 copies of some of them and 2 broken files.
void make_library(const fs::path& photos) {
  const std::vector<fs::path> copies = copy_photos(photos / "a", 30);
  copy_photos(photos / "b", 30, 30);
  fs::create_directories(photos / "c");
  for (size_t i = 0; i < 4; ++i) fs::copy_file(copies[i * 7], photos / "c" / ("copy-" + std::to_string(i) + ".jpg"));
  fs::copy_file(kSharedData / "pillow" / "truncated_jpeg.jpg", photos / "c" / "truncated.jpg");
  write_text(photos / "c" / "empty.jpg", "");
}
constexpr size_t kDistinctContents = 60;

// What the catalogue says, model by model: path -> vector id (ok files) or
// -1 (failed files).
std::map<std::string, int64_t> catalogue_state(const fs::path& data) {
  const Catalog catalog = Catalog::open_read_only(data / "catalog.db");
  std::map<std::string, int64_t> state;
  for (const std::string& path : catalog.paths_under("")) {
    const std::optional<VectorId> id = catalog.vector_id_of(path);
    state[path] = id ? *id : -1;
  }
  return state;
}

uint64_t embeddings_in(const fs::path& data) {
  if (!fs::exists(data / "catalog.db")) return 0;
  const CatalogCounts counts = Catalog::open_read_only(data / "catalog.db").counts();
  uint64_t total = 0;
  for (const auto& [model, count] : counts.embeddings) total += count;
  return total;
}

// What a restart finds: every ok file's content is embedded, the index file
// (as the next run opens it) holds exactly the live contents, once each.
void expect_consistent(const fs::path& data, const std::map<std::string, int64_t>& reference) {
  Catalog catalog = Catalog::open(data / "catalog.db");
  const std::vector<CatalogModel> models = catalog.models();
  if (models.empty()) {  // killed before the model was registered: nothing else either
    EXPECT_TRUE(catalog.paths_under("").empty());
    return;
  }
  ASSERT_EQ(models.size(), 1u);
  const ModelId model = models[0].id;
  std::set<VectorId> live;
  for (const auto& [path, known] : catalog.known_files(model)) {
    ASSERT_TRUE(reference.count(path)) << path << " is not a file of the library";
    if (known.state == FileState::ok) {
      EXPECT_TRUE(known.has_embedding) << path << " is recorded without an embedding";
      EXPECT_EQ(*known.vector_id, reference.at(path)) << path << " has another content than in a clean run";
      live.insert(*known.vector_id);
    } else {
      EXPECT_EQ(reference.at(path), -1) << path << " failed here but not in a clean run";
    }
  }
  OpenedIndex opened = VectorIndex::open(data / ("index-" + std::to_string(model) + ".faiss"), catalog, model);
  EXPECT_EQ(opened.index.ids(), std::vector<VectorId>(live.begin(), live.end())) << opened.reason;
  EXPECT_EQ(opened.index.size(), live.size()) << "an id twice";
  EXPECT_EQ(catalog.live_count(model), live.size());
}

// Embedded images reported by the per-commit log lines.
uint64_t embedded_in_log(const std::string& log) {
  static const std::regex commit_line("committed generation [0-9]+: ([0-9]+) embedded");
  uint64_t total = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), commit_line); it != std::sregex_iterator(); ++it)
    total += std::stoull((*it)[1].str());
  return total;
}

struct KilledRun {
  bool killed = false;  // false: it finished before the kill point
  std::string log;      // all it wrote to stderr, up to its death
};

// Starts `imgsearchd --verbose index`, reads its stderr until it has logged
// `commits` commits (and, when `commits` is 0, until its first line), then
// kills it with SIGKILL. Reads what it wrote before dying.
KilledRun run_and_kill(const fs::path& config, const fs::path& photos, const fs::path& scratch, int commits) {
  Process::Options options;
  options.stdout_file = scratch / "killed-stdout.txt";
  options.pipe_stderr = true;
  Process process(imgsearchd_argv(config, {"--verbose", "index", "--json", photos.string()}), options);
  EXPECT_TRUE(process.running());

  KilledRun run;
  std::string line;
  int seen = 0;
  bool reached = false;
  while (!reached && process.read_line(line)) {
    run.log += line;
    if (line.find("committed generation") != std::string::npos) ++seen;
    reached = seen >= commits;
  }
  ::kill(process.pid(), SIGKILL);
  while (process.read_line(line)) run.log += line;  // what it wrote before the kill landed
  const int exit_code = process.wait();
  run.killed = process.term_signal() == SIGKILL;
  if (!run.killed) {
    EXPECT_EQ(exit_code, 0) << run.log;
  }
  return run;
}

class IndexingCrashTest : public IndexingCliTest {};

TEST_F(IndexingCrashTest, KilledAtRandomPointsThenRestartedEndsAsACleanRun) {
  make_library(photos_);

  // The clean run, in its own data folder.
  const fs::path clean_data = dir_ / "clean-data";
  const fs::path clean_config = make_config(dir_ / "clean.yaml", clean_data, kModelA);
  const CommandResult clean_run = run_imgsearchd(clean_config, {"index", "--json", photos_.string()}, dir_);
  ASSERT_EQ(clean_run.exit_code, 0) << clean_run.err;
  const nlohmann::json clean = clean_run.json();
  ASSERT_EQ(clean["embedded"], kDistinctContents);
  ASSERT_EQ(clean["attached"], 4);
  ASSERT_EQ(clean["failed"], 2);
  const std::map<std::string, int64_t> reference = catalogue_state(clean_data);
  ASSERT_EQ(reference.size(), 66u);

  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> commits_before_kill(0, 2);
  int kills = 0;
  for (int round = 0; round < 6; ++round) {
    const int commits = commits_before_kill(rng);
    const uint64_t embedded_before = embeddings_in(data_);
    const KilledRun run = run_and_kill(config_, photos_, dir_, commits);
    SCOPED_TRACE("round " + std::to_string(round) + ", killed after " + std::to_string(commits) + " commits");
    if (!run.killed) break;  // finished first: nothing left to kill
    ++kills;
    std::printf("round %d: killed after %d commits; %llu images embedded before\n", round, commits,
                static_cast<unsigned long long>(embedded_before));
    expect_consistent(data_, reference);
    // Resumed, not redone: what this run embedded is new in the catalogue
    // (at most one commit's log line may not have been written yet).
    const uint64_t embedded_after = embeddings_in(data_);
    const uint64_t logged = embedded_in_log(run.log);
    EXPECT_LE(logged, embedded_after - embedded_before) << "committed images were embedded again:\n" << run.log;
    EXPECT_LE(embedded_after - embedded_before, logged + 4) << run.log;
    EXPECT_GE(embedded_after, embedded_before);
  }
  EXPECT_GE(kills, 4) << "the runs must actually be killed for this test to mean something";

  // The run to the end embeds exactly what is left, and ends where the clean run ended.
  const uint64_t embedded_before = embeddings_in(data_);
  const nlohmann::json last = index();
  EXPECT_EQ(last["embedded"].get<uint64_t>(), kDistinctContents - embedded_before);
  EXPECT_EQ(embeddings_in(data_), kDistinctContents);
  EXPECT_EQ(catalogue_state(data_), reference);
  expect_consistent(data_, reference);
  for (const char* query : {"a photo of a dog", "a red bus"}) {
    const CommandResult want = run_imgsearchd(clean_config, {"search", "--json", query, "-k", "10"}, dir_);
    ASSERT_EQ(want.exit_code, 0) << want.err;
    SCOPED_TRACE(query);
    expect_same_results(search({query, "-k", "10"})["results"], want.json()["results"]);
  }
}

}  // namespace
}  // namespace imgsearchd::test
