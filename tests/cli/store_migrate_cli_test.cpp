// `imgsearchd store migrate` with the real binary, real photos, a small
// random-weights model and a throwaway PostgreSQL cluster: SQLite ->
// PostgreSQL -> SQLite gives the same search results at every step, and
// nothing is embedded again. Also the PostgreSQL backend used as a user
// would: index into it, index a copied folder at no model cost, search.
#include <gtest/gtest.h>

#include "tests/support/cli_fixture.h"
#include "tests/support/postgres_cluster.h"

namespace imgsearchd::test {
namespace {

const std::vector<std::string> kQueries = {"a photo of a dog", "people at the beach"};

class StoreMigrateCliTest : public IndexingCliTest {
 protected:
  void SetUp() override {
    IndexingCliTest::SetUp();
    dsn_ = PostgresCluster::shared().create_database();
    use_backend("sqlite");
  }

  // The test's configuration with store.backend set to `backend`.
  void use_backend(const std::string& backend) {
    write_config(kModelA, "store:\n  backend: " + backend + "\n  postgresql:\n    dsn: \"" + dsn_ +
                              "\"\n    source: laptop\n");
  }

  // The top results of each query (store: is a top-level key: the fixture
  // appends it after the indexer keys, at column 0).
  std::vector<nlohmann::json> searches() {
    std::vector<nlohmann::json> results;
    for (const std::string& query : kQueries) results.push_back(search({query, "-k", "5"})["results"]);
    return results;
  }

  void expect_same_searches(const std::vector<nlohmann::json>& got, const std::vector<nlohmann::json>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      SCOPED_TRACE(kQueries[i]);
      expect_same_results(got[i], want[i]);
    }
  }

  std::string dsn_;
};

TEST_F(StoreMigrateCliTest, SqliteToPostgresqlAndBackGivesTheSameSearchResultsWithoutReembedding) {
  copy_photos(photos_, 8);
  EXPECT_EQ(index()["embedded"], 8);
  const std::vector<nlohmann::json> before = searches();
  ASSERT_EQ(before[0].size(), 5u);

  CommandResult to_postgresql = run({"store", "migrate", "--to", "postgresql"});
  ASSERT_EQ(to_postgresql.exit_code, 0) << to_postgresql.err;
  EXPECT_NE(to_postgresql.out.find("copied 8 files, 8 contents, 8 embeddings and 1 models"), std::string::npos)
      << to_postgresql.out;
  use_backend("postgresql");
  expect_same_searches(searches(), before);
  const nlohmann::json again = index();
  EXPECT_EQ(again["embedded"], 0) << again;
  EXPECT_EQ(again["unchanged"], 8) << again;

  // Back: the SQLite file must make way first.
  const CommandResult refused = run({"store", "migrate", "--to", "sqlite"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("exists already"), std::string::npos) << refused.err;
  for (const char* name : {"catalog.db", "catalog.db-wal", "catalog.db-shm"}) fs::remove(data_ / name);
  const CommandResult to_sqlite = run({"store", "migrate", "--to", "sqlite"});
  ASSERT_EQ(to_sqlite.exit_code, 0) << to_sqlite.err;
  use_backend("sqlite");
  expect_same_searches(searches(), before);
  EXPECT_EQ(index()["embedded"], 0);
}

TEST_F(StoreMigrateCliTest, APostgresqlCatalogueIndexesACopiedFolderWithoutAModelCall) {
  use_backend("postgresql");
  copy_photos(photos_, 6);
  EXPECT_EQ(index()["embedded"], 6);
  const std::vector<nlohmann::json> before = searches();
  ASSERT_EQ(before[0].size(), 5u);
  const fs::path copy = dir_ / "copy";
  fs::copy(photos_, copy);
  const nlohmann::json copied = index({photos_.string(), copy.string()});
  EXPECT_EQ(copied["embedded"], 0) << copied;
  EXPECT_EQ(copied["hashed"], 6) << copied;
  const CommandResult status = run({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.json()["files_ok"], 12) << status.out;
  EXPECT_EQ(status.json()["contents"], 6) << status.out;
  EXPECT_EQ(status.json()["catalog"].get<std::string>().rfind("postgresql:", 0), 0u) << status.out;
  const nlohmann::json hits = search({kQueries[0], "-k", "3"})["results"];
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0]["paths"].size(), 2u) << "the original and the copy: " << hits[0];
}

TEST_F(StoreMigrateCliTest, APasswordInTheDsnIsRefusedNamingTheKey) {
  write_config(kModelA, "store:\n  backend: postgresql\n  postgresql:\n    dsn: \"" + dsn_ + " password=hunter2\"\n");
  const CommandResult result = run({"status"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("store.postgresql.dsn"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("hunter2"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace imgsearchd::test
