// kill -9 at any moment of indexing, then a restart: the catalogue holds
// exactly the batches committed (none lost, none half-done) and the vector
// index opens consistent with it (nothing missing, nothing duplicated).
#include <gtest/gtest.h>
#include <signal.h>

#include <set>
#include <string>

#include "crash_batches.h"
#include "store/catalog/catalog.h"
#include "store/faiss/vector_index.h"
#include "store_test_util.h"
#include "tests/support/process.h"

namespace imgsearchd {
namespace {

using test::crash_batch;
using test::crash_state;
using test::kCrashDim;

// Starts the crash writer on `dir`, reads its output until it reports
// `event` ("committed" or "saved") for batch `last`, then kills it with
// SIGKILL. After "committed" the kill tends to land in the index save, after
// "saved" in the next commit; exactly where varies from run to run, and what
// is checked afterwards holds wherever it lands.
void run_writer_and_kill(const std::filesystem::path& dir, const std::string& event, uint64_t last) {
  test::Process::Options options;
  options.pipe_stdout = true;
  test::Process writer({STORE_CRASH_WRITER, dir.string()}, options);
  ASSERT_TRUE(writer.running()) << STORE_CRASH_WRITER;

  const std::string wanted = event + " " + std::to_string(last) + "\n";
  std::string line;
  bool reached = false;
  while (!reached && writer.read_line(line)) reached = wanted == line;
  const int exit_code = writer.kill();
  ASSERT_TRUE(reached) << "the writer stopped before '" << wanted << "'";
  ASSERT_EQ(writer.term_signal(), SIGKILL) << "exit code " << exit_code;
}

void expect_consistent_after_restart(const std::filesystem::path& dir, uint64_t last_reported) {
  Catalog catalog = Catalog::open(dir / "catalog.db");
  const ModelId model = catalog.model("crash", "f", kCrashDim);
  // Every batch is a commit: the generation counts the batches committed.
  const uint64_t committed = catalog.generation();
  EXPECT_GE(committed, last_reported + 1) << "a reported commit was lost";

  const test::CrashState expected = crash_state(committed);
  const auto known = catalog.known_files(model);
  EXPECT_EQ(known.size(), expected.ok.size() + expected.failed.size());
  std::set<VectorId> live;
  for (const auto& [path, hash] : expected.ok) {
    ASSERT_TRUE(known.count(path)) << path;
    EXPECT_EQ(known.at(path).vector_id, vector_id_for(hash)) << path;
    EXPECT_TRUE(known.at(path).has_embedding) << path;
    live.insert(vector_id_for(hash));
  }
  for (const std::string& path : expected.failed) {
    ASSERT_TRUE(known.count(path)) << path;
    EXPECT_EQ(known.at(path).state, FileState::failed) << path;
  }
  EXPECT_EQ(catalog.live_count(model), live.size());

  OpenedIndex opened = VectorIndex::open(dir / "index.faiss", catalog, model);
  EXPECT_EQ(opened.index.ids(), std::vector<VectorId>(live.begin(), live.end())) << opened.reason;
  EXPECT_EQ(opened.index.size(), live.size()) << "no id twice";
  EXPECT_EQ(opened.index.generation(), committed);
  const VectorIndex reference = VectorIndex::rebuild(catalog, model);
  for (uint64_t seed = 0; seed < 5; ++seed) {
    const auto query = test::vector_of(7000 + seed, kCrashDim);
    const auto got = opened.index.search(query, 8);
    const auto want = reference.search(query, 8);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].id, want[i].id);
      EXPECT_EQ(got[i].score, want[i].score);
    }
  }

  // Indexing goes on from where it stopped.
  opened.index.apply(catalog.commit(crash_batch(committed, model)));
  EXPECT_EQ(opened.index.ids(), VectorIndex::rebuild(catalog, model).ids());
}

struct KillPoint {
  const char* event;
  uint64_t batch;
};

class CrashTest : public ::testing::TestWithParam<KillPoint> {};

TEST_P(CrashTest, KilledWhileIndexingThenRestartedLosesAndDuplicatesNothing) {
  const std::filesystem::path dir = test::fresh_dir("store");
  const KillPoint kill_point = GetParam();
  run_writer_and_kill(dir, kill_point.event, kill_point.batch);
  expect_consistent_after_restart(dir, kill_point.batch);
  // Killed a second time, later on, starting from the recovered state.
  const uint64_t resumed_at = Catalog::open(dir / "catalog.db").generation();
  run_writer_and_kill(dir, kill_point.event, resumed_at + 3);
  expect_consistent_after_restart(dir, resumed_at + 3);
}

INSTANTIATE_TEST_SUITE_P(AtBatch, CrashTest,
                         ::testing::Values(KillPoint{"committed", 0}, KillPoint{"saved", 0}, KillPoint{"committed", 5},
                                           KillPoint{"saved", 6}, KillPoint{"committed", 17},
                                           KillPoint{"saved", 40}),
                         [](const ::testing::TestParamInfo<KillPoint>& info) {
                           return std::string(info.param.event) + "_" + std::to_string(info.param.batch);
                         });

}  // namespace
}  // namespace imgsearchd
