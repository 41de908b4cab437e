// Searches over HTTP while the pipeline commits batches into the same index.
#include <atomic>
#include <thread>

#include "api_test_server.h"

namespace imgsearchd::test {
namespace {

class ConcurrencyTest : public ApiTest {};

TEST_F(ConcurrencyTest, SearchesAnswerWhileAnotherThreadCommitsBatches) {
  const fs::path more = scratch_ / "more";
  const std::vector<fs::path> added = copy_photos(more, 40, kPhotos);
  ApiOptions options = default_options();
  options.threads = 4;
  start_server(options);

  std::atomic<bool> indexing_done{false};
  std::atomic<size_t> during{0};
  std::mutex mutex;
  std::condition_variable searched;
  IndexingSummary summary;
  std::thread indexer([&] {
    // Batches of 2: many commits, each applied to the index being searched.
    IndexingOptions indexing;
    indexing.scan.roots = {photos_dir_, more};
    indexing.decode_threads = 2;
    indexing.batch_size = 2;
    IndexingTarget target{*writer_, model_, index_.get()};
    bool waited = false;
    summary = run_indexing(target, session_->model(), session_->preprocess(), indexing,
                           [&](const IndexingProgress& progress) {
                             // Part-way through, let the searchers in before going on: some searches
                             // certainly run between commits, whatever the machine's speed.
                             if (waited || progress.phase != IndexingProgress::Phase::indexing || progress.done < 10)
                               return;
                             waited = true;
                             std::unique_lock<std::mutex> lock(mutex);
                             searched.wait(lock, [&] { return during >= 8; });
                           });
    indexing_done = true;
  });

  constexpr int kSearchers = 4;
  std::vector<std::thread> searchers;
  std::atomic<int> failures{0};
  for (int s = 0; s < kSearchers; ++s) {
    searchers.emplace_back([&, s] {
      auto client = new_client();
      const std::vector<std::string> texts = {"a cat", "a street at night", "food on a plate", "people"};
      for (int done = 0; !indexing_done || done < 3; ++done) {
        const std::string path = "/api/search?k=20&q=" + httplib::detail::encode_query_param(texts[s]);
        const httplib::Result result = done % 2 ? client->Get(path) : client->Post("/api/search",
            nlohmann::json({{"text", texts[s]}, {"k", 20}}).dump(), "application/json");
        if (!result || result->status != 200) {
          ++failures;
          continue;
        }
        const nlohmann::json page = nlohmann::json::parse(result->body);
        const size_t count = page["results"].size();
        // Never fewer than what was indexed before, never a duplicate.
        std::set<std::string> ids;
        for (const auto& hit : page["results"]) ids.insert(hit["id"].get<std::string>());
        if (count < std::min<size_t>(20, kPhotos) || ids.size() != count) ++failures;
        if (!indexing_done) {
          std::lock_guard<std::mutex> lock(mutex);
          ++during;
          searched.notify_all();
        }
      }
    });
  }
  indexer.join();
  for (std::thread& searcher : searchers) searcher.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(summary.counts.embedded, added.size());
  EXPECT_GE(during.load(), 8u);

  const nlohmann::json all = body_json(client().Get("/api/search?q=anything&k=1000"));
  EXPECT_EQ(all["results"].size(), kPhotos + added.size());
  expect_healthy();
}

}  // namespace
}  // namespace imgsearchd::test
