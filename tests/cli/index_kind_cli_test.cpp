// search.index as a user meets it: `index` builds the configured kind of
// vector index, readers search the kind the file was saved with, and a
// writer with another configured kind rebuilds the file (saying why)
// without any model work.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/cli_fixture.h"

namespace imgsearchd::test {
namespace {

TEST_F(IndexingCliTest, TheIndexKindFollowsTheConfigurationAndAChangeRebuildsTheFile) {
  copy_photos(photos_, 8);
  write_config(kModelA, "search:\n  index: ivf\n  nlist: 2\n  nprobe: 1\n");
  const CommandResult first = run({"index", "--json", photos_.string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("ivf, searched flat until it has enough vectors to train"), std::string::npos)
      << "8 images are too few to train 2 lists: " << first.err;
  const nlohmann::json before = search({"a photo of a dog", "-k", "8"})["results"];
  ASSERT_EQ(before.size(), 8u);

  // A reader configured for flat searches the ivf file as saved: current, same results.
  write_config(kModelA);
  const CommandResult status = run({"status", "--json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(status.json()["models"][0]["index"]["current"], true) << status.out;
  expect_same_results(search({"a photo of a dog", "-k", "8"})["results"], before);

  // The writer configured for flat rebuilds the file from the catalogue.
  const CommandResult again = run({"index", "--json", photos_.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("stale: it is an index of kind ivf, not flat"), std::string::npos) << again.err;
  EXPECT_EQ(again.json()["embedded"], 0) << "a rebuild from the catalogue needs no model";
  expect_same_results(search({"a photo of a dog", "-k", "8"})["results"], before);
  const CommandResult third = run({"index", "--json", photos_.string()});
  EXPECT_EQ(third.err.find("stale"), std::string::npos) << "the rebuilt flat file was saved: " << third.err;

  // A bad kind is refused before anything is opened, naming the key.
  write_config(kModelA, "search:\n  index: hnsw\n");
  const CommandResult bad = run({"index", "--json", photos_.string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("'search.index' must be one of flat, ivf, got 'hnsw'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace imgsearchd::test
