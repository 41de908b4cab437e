// Announcements of commits (store/core/change_listener.h): a PostgreSQL
// catalogue announces every commit of every service to the others' listeners
// (LISTEN/NOTIFY on the test binary's throwaway cluster); SQLite's listener
// never announces anything and only sleeps. Waits here are long (60 s, the
// fallback a service would poll at) and end by what the listener says woke
// it, never by measuring time.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store/catalog/catalog.h"
#include "catalog_backends.h"
#include "store_test_util.h"

namespace imgsearchd {
namespace {

using Wake = ChangeListener::Wake;
using test::indexed;

constexpr int kDim = 8;
constexpr std::chrono::seconds kFallback{60};

Batch batch_of(ModelId model, const std::string& folder, uint64_t first, uint64_t count) {
  Batch batch;
  batch.model = model;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    batch.indexed.push_back(indexed(folder + std::to_string(seed) + ".jpg", seed, kDim));
  }
  return batch;
}

template <class Backend>
struct ChangeListenerTest : ::testing::Test {
  Backend backend;
  Catalog catalog = Catalog::open(backend.location());
};
TYPED_TEST_SUITE(ChangeListenerTest, test::CatalogBackends, test::CatalogBackendNames);

TYPED_TEST(ChangeListenerTest, AnInterruptEndsAWaitAtOnceFromAnotherThread) {
  std::unique_ptr<ChangeListener> listener = this->catalog.change_listener();
  ASSERT_EQ(listener->wait(kFallback).why, Wake::connected);
  // Before the wait or during it: either way the wait ends interrupted.
  std::thread stopper([&] { listener->interrupt(); });
  EXPECT_EQ(listener->wait(kFallback).why, Wake::interrupted);
  stopper.join();
}

TEST(SqliteChangeListener, NeverAnnouncesACommit) {
  const std::filesystem::path dir = test::fresh_dir("store");
  Catalog catalog = Catalog::open(dir / "catalog.db");
  const ModelId model = catalog.model("m", "f", kDim);
  std::unique_ptr<ChangeListener> listener = catalog.change_listener();
  ASSERT_EQ(listener->wait(kFallback).why, Wake::connected);
  catalog.commit(batch_of(model, "/photos/", 1, 2));
  EXPECT_EQ(listener->wait(std::chrono::milliseconds(1)).why, Wake::timeout) << "one writer: nothing to announce";
}

// Two services on one database: "here" listens, "there" commits.
struct PostgresChangeListenerTest : ::testing::Test {
  test::PostgresBackend backend;
  Catalog here = Catalog::open(backend.location("here"));
  Catalog there = Catalog::open(backend.location("there"));
  ModelId model = there.model("m", "f", kDim);

  // Ends the listener's connection from the server's side, as a restart of
  // PostgreSQL or a dropped connection would.
  void terminate_listeners() {
    EXPECT_EQ(backend.sql_text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE application_name = 'imgsearchd listener'"),
              "1");
  }
};

TEST_F(PostgresChangeListenerTest, AnotherServicesCommitWakesTheWaitWithItsGeneration) {
  std::unique_ptr<ChangeListener> listener = here.change_listener();
  ASSERT_EQ(listener->wait(kFallback).why, Wake::connected);
  const CommitResult committed = there.commit(batch_of(model, "/there/", 1, 3));
  const ChangeListener::Woken woken = listener->wait(kFallback);
  EXPECT_EQ(woken.why, Wake::notified) << "woken by the announcement, not the fallback timeout";
  EXPECT_EQ(woken.generation, committed.generation);

  // Commits announced while nobody waited wake the next waits (one or two:
  // the second may still be on its way), up to the newest generation.
  there.commit(batch_of(model, "/there/", 10, 1));
  const CommitResult last = here.commit(batch_of(model, "/here/", 20, 1));  // our own are announced too
  ChangeListener::Woken woken_again = listener->wait(kFallback);
  EXPECT_EQ(woken_again.why, Wake::notified);
  if (woken_again.generation < last.generation) {
    EXPECT_EQ(woken_again.generation, last.generation - 1);
    woken_again = listener->wait(kFallback);
    EXPECT_EQ(woken_again.why, Wake::notified);
  }
  EXPECT_EQ(woken_again.generation, last.generation);
  EXPECT_EQ(listener->wait(std::chrono::milliseconds(1)).why, Wake::timeout) << "each announcement wakes once";
}

TEST_F(PostgresChangeListenerTest, AFailedCommitIsNotAnnounced) {
  std::unique_ptr<ChangeListener> listener = here.change_listener();
  ASSERT_EQ(listener->wait(kFallback).why, Wake::connected);
  backend.refuse_inserting("/there/bad.jpg", "refused by the test");
  Batch batch = batch_of(model, "/there/", 1, 2);
  batch.indexed.push_back(indexed("/there/bad.jpg", 3, kDim));
  EXPECT_THROW(there.commit(batch), StoreError);
  backend.allow_inserting();
  const CommitResult good = there.commit(batch_of(model, "/there/", 5, 1));
  const ChangeListener::Woken woken = listener->wait(kFallback);
  EXPECT_EQ(woken.why, Wake::notified);
  EXPECT_EQ(woken.generation, good.generation);
  EXPECT_EQ(good.generation, 1u) << "the failed commit took no generation";
}

TEST_F(PostgresChangeListenerTest, ALostConnectionIsReportedAndTheNextWaitConnectsAgain) {
  std::unique_ptr<ChangeListener> listener = here.change_listener();
  ASSERT_EQ(listener->wait(kFallback).why, Wake::connected);
  terminate_listeners();
  try {
    listener->wait(kFallback);
    ADD_FAILURE() << "a wait on a connection the server ended should throw";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("listening for commits was lost"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(backend.name()), std::string::npos) << e.what();
  }
  // Commits made while it was away were not announced to it: `connected`
  // says to look; what comes after is announced again.
  there.commit(batch_of(model, "/there/", 1, 1));
  EXPECT_EQ(listener->wait(kFallback).why, Wake::connected);
  const CommitResult next = there.commit(batch_of(model, "/there/", 2, 1));
  const ChangeListener::Woken woken = listener->wait(kFallback);
  EXPECT_EQ(woken.why, Wake::notified);
  EXPECT_EQ(woken.generation, next.generation);
}

}  // namespace
}  // namespace imgsearchd
