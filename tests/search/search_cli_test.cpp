// Reranking, query terms and duplicates as a user meets them: the real
// binary, a small random-weights CLIP model, real COCO photos, and copies of
// them made here: byte-identical, pixel-identical (other bytes), resized and
// re-encoded (libvips).
#include <gtest/gtest.h>
#include <vips/vips8>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cli_fixture.h"

namespace imgsearchd::test {
namespace {

void init_vips() {
  static const bool ready = VIPS_INIT("search_cli_test") == 0;
  ASSERT_TRUE(ready) << "libvips failed to start";
}

void resized_copy(const fs::path& from, const fs::path& to, double scale) {
  init_vips();
  vips::VImage::new_from_file(from.c_str()).resize(scale).jpegsave(to.c_str());
}

void reencoded_copy(const fs::path& from, const fs::path& to, int quality) {
  init_vips();
  vips::VImage::new_from_file(from.c_str()).jpegsave(to.c_str(), vips::VImage::option()->set("Q", quality));
}

// The rank of the result holding `path` among `results`, or -1.
int rank_of(const nlohmann::json& results, const std::string& path) {
  for (size_t i = 0; i < results["results"].size(); ++i) {
    for (const auto& p : results["results"][i]["paths"]) {
      if (p.get<std::string>() == path) return static_cast<int>(i);
    }
  }
  return -1;
}

class SearchRerankTest : public IndexingCliTest {
 protected:
  // photo-00 .. photo-(n-1), plus four copies of `original`: byte-identical
  // (same content, a second path), pixel-identical (bytes appended),
  // resized to 60 %, and re-encoded at quality 40.
  void make_photos_with_copies(size_t n, const fs::path& original) {
    photos = copy_photos(photos_, n);
    const fs::path copies = photos_ / "copies";
    fs::create_directories(copies);
    identical = copies / "identical.jpg";
    pixel_identical = copies / "pixel-identical.jpg";
    resized = copies / "resized.jpg";
    reencoded = copies / "reencoded.jpg";
    fs::copy_file(original, identical);
    fs::copy_file(original, pixel_identical);
    append_bytes(pixel_identical);
    resized_copy(original, resized, 0.6);
    reencoded_copy(original, reencoded, 40);
  }

  // The paths standing for the four contents of the original: it, and its three copies with other bytes.
  std::vector<std::string> contents_of(const fs::path& original) const {
    return {original.string(), pixel_identical.string(), resized.string(), reencoded.string()};
  }

  std::vector<fs::path> photos;
  fs::path identical, pixel_identical, resized, reencoded;
};

TEST_F(SearchRerankTest, CollapseFoldsIdenticalAndNearDuplicateCopiesUnderOneResult) {
  const std::vector<fs::path> originals = copy_photos(dir_ / "originals", 1);
  make_photos_with_copies(6, originals[0]);  // photo-00 is the original itself
  index();
  const std::string query = "a photo of a dog";

  // Without collapsing: the original and its three other contents are four results among ten.
  const nlohmann::json plain = search({query, "-k", "100"});
  ASSERT_EQ(plain["results"].size(), 9u);  // 6 photos + 3 copies with other bytes (the identical one is a path)
  for (const std::string& path : contents_of(photos[0])) EXPECT_GE(rank_of(plain, path), 0) << path;
  EXPECT_EQ(plain["results"][rank_of(plain, photos[0].string())]["paths"].size(), 2u) << "byte-identical copy";

  const nlohmann::json collapsed = search({query, "-k", "100", "--collapse", "0.95"});
  ASSERT_EQ(collapsed["results"].size(), 6u) << collapsed.dump(1);
  std::set<std::string> listed_paths;
  for (const auto& hit : collapsed["results"]) {
    for (const auto& p : hit["paths"]) listed_paths.insert(p.get<std::string>());
    for (const auto& duplicate : hit["duplicates"]) {
      EXPECT_GE(duplicate["similarity"].get<double>(), 0.95);
      for (const auto& p : duplicate["paths"]) listed_paths.insert(p.get<std::string>());
    }
  }
  // Every path still appears once, as a result or under one.
  EXPECT_EQ(listed_paths.size(), 10u);
  // The original's four contents: one result, three collapsed under it.
  int owner = -1;
  for (const std::string& path : contents_of(photos[0])) {
    const int rank = rank_of(collapsed, path);
    if (rank >= 0) {
      EXPECT_EQ(owner, -1) << "two of the copies are separate results";
      owner = rank;
    }
  }
  ASSERT_GE(owner, 0);
  EXPECT_EQ(collapsed["results"][owner]["duplicates"].size(), 3u);
  // The five distinct photos stay results of their own with nothing under them.
  for (size_t i = 1; i < 6; ++i) {
    const int rank = rank_of(collapsed, photos[i].string());
    ASSERT_GE(rank, 0) << photos[i];
    EXPECT_TRUE(collapsed["results"][rank]["duplicates"].empty()) << photos[i];
  }
  // Raw cosines are kept: the representative's is its plain score.
  for (const auto& hit : collapsed["results"]) {
    EXPECT_EQ(hit["cosine"], plain["results"][rank_of(plain, hit["path"].get<std::string>())]["score"]);
  }
}

TEST_F(SearchRerankTest, DiversityMovesNearDuplicatesDownAndLeavesTheFirstResult) {
  copy_photos(photos_, 8);
  index();
  const std::string query = "a photo of a dog";
  // Copies of the best match score about as well as it does.
  const std::string best = search({query, "-k", "1"})["results"][0]["path"].get<std::string>();
  make_photos_with_copies(0, best);
  index();

  const nlohmann::json plain = search({query, "-k", "100"});
  ASSERT_EQ(plain["results"].size(), 11u);
  const std::vector<std::string> copies = contents_of(best);
  for (const std::string& path : copies) {
    ASSERT_LT(rank_of(plain, path), 4) << "precondition: the four contents of the best match lead the plain list: "
                                       << path << "\n" << plain.dump(1);
  }

  const nlohmann::json diverse = search({query, "-k", "100", "--diversity", "0.5"});
  ASSERT_EQ(diverse["results"].size(), 11u);
  EXPECT_EQ(diverse["results"][0]["id"], plain["results"][0]["id"]) << "the first result stays";
  // The other three copies go down, and a distinct photo comes second.
  for (const std::string& path : copies) {
    const int rank = rank_of(diverse, path);
    if (rank == 0) continue;
    EXPECT_GT(rank, rank_of(plain, path)) << path << "\n" << diverse.dump(1);
    EXPECT_NE(rank, 1) << path;
  }
  // Scores are still the relevance (cosine), not the MMR value.
  for (const auto& hit : diverse["results"]) EXPECT_EQ(hit["score"], hit["cosine"]);
}

TEST_F(SearchRerankTest, ThresholdFiltersPlainAndRerankedLists) {
  copy_photos(photos_, 10);
  index();
  const std::string query = "people at the beach";
  const nlohmann::json plain = search({query, "-k", "100"});
  ASSERT_EQ(plain["results"].size(), 10u);
  const float fifth = plain["results"][4]["score"].get<float>();
  const std::string threshold = std::to_string(fifth - 1e-6f);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, {"--diversity", "0.8"}, {"--collapse", "0.9"}, {"--normalise", "minmax"}}) {
    std::vector<std::string> args = {query, "-k", "100", "--min-score", threshold};
    args.insert(args.end(), extra.begin(), extra.end());
    const nlohmann::json above = search(args);
    ASSERT_FALSE(above["results"].empty());
    std::set<int64_t> want, got;
    for (size_t i = 0; i < 5; ++i) want.insert(std::stoll(plain["results"][i]["id"].get<std::string>()));
    size_t shown = 0;
    for (const auto& hit : above["results"]) {
      EXPECT_GE(hit["cosine"].get<float>(), fifth - 1e-6f);
      got.insert(std::stoll(hit["id"].get<std::string>()));
      for (const auto& duplicate : hit["duplicates"]) got.insert(std::stoll(duplicate["id"].get<std::string>()));
      ++shown;
    }
    EXPECT_EQ(got, want) << "with " << (extra.empty() ? "nothing" : extra[0]);
  }
  // Normalised scores run from 1 down to 0 over the pool, the raw cosine beside them.
  const nlohmann::json normalised = search({query, "-k", "100", "--normalise", "minmax"});
  EXPECT_FLOAT_EQ(normalised["results"][0]["score"].get<float>(), 1.0f);
  EXPECT_FLOAT_EQ(normalised["results"][9]["score"].get<float>(), 0.0f);
  EXPECT_EQ(normalised["results"][0]["cosine"], plain["results"][0]["score"]);
}

TEST_F(SearchRerankTest, PagesOfARerankedListCoverEachResultOnce) {
  copy_photos(photos_, 14);
  index();
  const std::string query = "a kitchen";
  for (const std::vector<std::string>& rerank :
       {std::vector<std::string>{"--diversity", "0.7"}, {"--diversity", "0.3", "--collapse", "0.8"}}) {
    std::vector<std::string> whole_args = {query, "-k", "100"};
    whole_args.insert(whole_args.end(), rerank.begin(), rerank.end());
    const nlohmann::json whole = search(whole_args);
    ASSERT_GE(whole["results"].size(), 5u);
    EXPECT_TRUE(whole["next_offset"].is_null());

    std::vector<int64_t> paged;
    size_t offset = 0;
    for (int page = 0; page < 20; ++page) {
      std::vector<std::string> args = {query, "-k", "3", "--offset", std::to_string(offset)};
      args.insert(args.end(), rerank.begin(), rerank.end());
      const nlohmann::json result = search(args);
      for (const int64_t id : ids_of(result)) paged.push_back(id);
      if (result["next_offset"].is_null()) break;
      EXPECT_EQ(result["next_offset"].get<size_t>(), offset + 3);
      offset = result["next_offset"].get<size_t>();
    }
    EXPECT_EQ(paged, ids_of(whole)) << "pages follow each other with no repeat and no gap";
    EXPECT_EQ(std::set<int64_t>(paged.begin(), paged.end()).size(), paged.size());
  }
  // Diversity really changed the order here, so the paging above is not the plain list's.
  EXPECT_NE(ids_of(search({query, "-k", "100", "--diversity", "0.7"})), ids_of(search({query, "-k", "100"})));
}

TEST_F(SearchRerankTest, DuplicatesGroupsCopiesAndLeavesDistinctPhotosAlone) {
  const std::vector<fs::path> originals = copy_photos(dir_ / "originals", 1);
  make_photos_with_copies(6, originals[0]);
  fs::copy_file(photos[3], photos_ / "copies" / "photo-03-copy.jpg");  // an exact copy, nothing else
  index();

  const CommandResult result = run({"duplicates", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json out = result.json();
  ASSERT_EQ(out["group_count"], 2) << out.dump(1);
  const nlohmann::json& near = out["groups"][0];
  std::set<std::string> near_paths;
  for (const auto& member : near["members"]) {
    EXPECT_GE(member["similarity"].get<double>(), 0.95);
    for (const auto& p : member["paths"]) near_paths.insert(p.get<std::string>());
  }
  EXPECT_EQ(near["images"], 4);
  EXPECT_EQ(near_paths, (std::set<std::string>{photos[0].string(), identical.string(), pixel_identical.string(),
                                               resized.string(), reencoded.string()}));
  EXPECT_FLOAT_EQ(near["members"][0]["similarity"].get<float>(), 1.0f) << "the first member";

  const nlohmann::json& exact = out["groups"][1];
  ASSERT_EQ(exact["members"].size(), 1u);
  EXPECT_EQ(exact["members"][0]["paths"],
            (nlohmann::json{(photos_ / "copies" / "photo-03-copy.jpg").string(), photos[3].string()}));

  const CommandResult text = run({"duplicates"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("group 1: 4 images, 5 paths"), std::string::npos) << text.out;
  EXPECT_NE(run({"duplicates", "--min-score", "1.5"}).err.find("--min-score must be"), std::string::npos);
}

TEST_F(SearchRerankTest, ANegativeTermMovesAKnownImageDown) {
  copy_photos(photos_, 10);
  index();
  const std::string query = "a photo of a dog";
  const nlohmann::json plain = search({query, "-k", "100"});
  const std::string best = plain["results"][0]["path"].get<std::string>();
  // A re-encoded copy outside the index: not excluded, so only its weight acts.
  const fs::path outside = dir_ / "outside.jpg";
  reencoded_copy(best, outside, 50);

  const nlohmann::json pushed = search({query, "-k", "100", "--subtract", outside.string()});
  ASSERT_EQ(pushed["results"].size(), 10u);
  EXPECT_GT(rank_of(pushed, best), 5) << pushed.dump(1);
  EXPECT_TRUE(pushed["excluded"].empty());
  // A text term moves its own way too, and W: weights it.
  const nlohmann::json weighted = search({query, "-k", "100", "--subtract", "0.5:" + outside.string()});
  EXPECT_GT(rank_of(weighted, best), 0);
  EXPECT_EQ(search({query, "-k", "100", "--add", "0.000001:" + outside.string()})["results"][0]["path"], best);
  EXPECT_EQ(pushed["query"]["terms"][1]["weight"], -1.0);
}

TEST_F(SearchRerankTest, AnIndexedImageTermComesFirstUnlessLeftOut) {
  const std::vector<fs::path> photos_in = copy_photos(photos_, 8);
  index();
  const std::string image = photos_in[2].string();
  const int64_t id = std::stoll(similar({image, "-k", "1"})["query"]["id"].get<std::string>());

  // rclip's rule: a term that is a path is an image; indexed images used as terms are left out...
  const nlohmann::json left_out = search({image, "-k", "100"});
  EXPECT_EQ(rank_of(left_out, image), -1);
  EXPECT_EQ(left_out["results"].size(), 7u);
  EXPECT_EQ(left_out["excluded"], nlohmann::json::array({std::to_string(id)}));
  const nlohmann::json added = search({"a dog", "--add", "3:" + image, "-k", "100"});
  EXPECT_EQ(rank_of(added, image), -1);

  // ...unless asked for: then it is the best match of itself.
  const nlohmann::json kept = search({image, "-k", "100", "--include-query-images"});
  EXPECT_EQ(rank_of(kept, image), 0);
  EXPECT_NEAR(kept["results"][0]["cosine"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(rank_of(search({"a dog", "--add", "3:" + image, "-k", "100", "--include-query-images"}), image), 0);

  // Terms that cancel out, a missing file and a URL are refused with a clear message.
  const CommandResult cancel = run({"search", image, "--subtract", image});
  EXPECT_EQ(cancel.exit_code, 2);
  EXPECT_NE(cancel.err.find("cancel out"), std::string::npos) << cancel.err;
  const CommandResult missing = run({"search", "a dog", "--add", "./no-such.jpg"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no-such.jpg"), std::string::npos) << missing.err;
  const CommandResult url = run({"search", "a dog", "--add", "https://example.com/a.jpg"});
  EXPECT_EQ(url.exit_code, 2);
  EXPECT_NE(url.err.find("downloads nothing"), std::string::npos) << url.err;
}

TEST_F(SearchRerankTest, RerankDefaultsComeFromTheConfigAndFlagsOverrideThem) {
  copy_photos(photos_, 10);
  write_config(kModelA, "search:\n  diversity: 0.7\n  pool: 6\n");
  index();
  const nlohmann::json configured = search({"a kitchen", "-k", "3"});
  EXPECT_EQ(configured["diversity"], 0.7f);
  EXPECT_EQ(configured["pool"], 6);
  const nlohmann::json overridden = search({"a kitchen", "-k", "3", "--diversity", "0", "--pool", "6"});
  EXPECT_EQ(overridden["diversity"], 0.0);
  // The reranked list ends with the pool: 6 results in pages of 3.
  EXPECT_EQ(search({"a kitchen", "-k", "3", "--offset", "3"})["next_offset"], nullptr);
  const CommandResult bad = run({"search", "a kitchen", "--diversity", "2"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--diversity must be between 0 and 1"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace imgsearchd::test
