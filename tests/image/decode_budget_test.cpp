// The decode memory budget (indexer/image/decode_budget.h): the header
// estimates, the budget's waiting rules, and the loader holding a lease while
// it decodes. No test depends on timing: a caller that must be waiting is
// checked once the budget counts it as waiting.

#include "indexer/image/decode_budget.h"
#include "indexer/image/image_loader.h"
#include "tests/support/scratch.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using Format = DecodeShape::Format;

constexpr uint64_t kMB = 1 << 20;

DecodeShape shape(Format format, uint64_t width, uint64_t height) {
  DecodeShape s;
  s.format = format;
  s.width = width;
  s.height = height;
  return s;
}

// Waits (at most a minute) until `condition` holds; a deadline, not a timing.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// ---------------------------------------------------------------------------
// Estimates

TEST(DecodeMemoryEstimate, AProgressiveJpegHoldsItsWholeCoefficientsWhateverTheShrink) {
  DecodeShape progressive = shape(Format::jpeg, 4000, 3000);
  progressive.progressive = true;
  progressive.chroma_divisor = 4;  // 4:2:0
  progressive.load_scale = 0.25;
  // 12 MP: luma 2 bytes per pixel, two quarter-size chroma planes 1 more.
  EXPECT_GE(decode_memory_estimate(progressive), 36 * 1'000'000u);
  DecodeShape baseline = progressive;
  baseline.progressive = false;
  EXPECT_LT(decode_memory_estimate(baseline), 4 * kMB);
  DecodeShape full_chroma = progressive;
  full_chroma.chroma_divisor = 1;  // 4:4:4: chroma planes at full size
  EXPECT_GE(decode_memory_estimate(full_chroma), 72 * 1'000'000u);
}

TEST(DecodeMemoryEstimate, GrowsWithThePixelsAndIsTheSameEachTime) {
  for (const Format format : {Format::jpeg, Format::png, Format::webp, Format::heif, Format::other}) {
    SCOPED_TRACE(static_cast<int>(format));
    DecodeShape small = shape(format, 2000, 1500);
    small.progressive = true;
    DecodeShape large = small;
    large.width = 4000;
    large.height = 3000;
    EXPECT_GT(decode_memory_estimate(large), decode_memory_estimate(small));
    EXPECT_EQ(decode_memory_estimate(small), decode_memory_estimate(small));
    EXPECT_GE(decode_memory_estimate(small), kMB);
  }
}

TEST(DecodeMemoryEstimate, HeifDecodesTheWholeImage) {
  // Tiles, planes and RGB at full size: 8.2 bytes per pixel measured.
  EXPECT_GE(decode_memory_estimate(shape(Format::heif, 4000, 3000)), 98 * 1'000'000u);
}

// From real files' headers: the estimate sees progressive scans.
TEST(DecodeMemoryEstimate, ReadsProgressiveScansFromTheHeader) {
  init_image_library("decode_budget_test");
  const fs::path dir = test::fresh_dir("image");
  const vips::VImage photo =
      vips::VImage::new_from_file((test::shared_testdata() / "exif-orientation/Landscape_1.jpg").c_str());
  const fs::path baseline = dir / "baseline.jpg", progressive = dir / "progressive.jpg";
  photo.jpegsave(baseline.c_str());
  photo.jpegsave(progressive.c_str(), vips::VImage::option()->set("interlace", true));
  const PreprocessOptions options;
  const std::optional<uint64_t> baseline_bytes = decode_memory_estimate(baseline, options);
  const std::optional<uint64_t> progressive_bytes = decode_memory_estimate(progressive, options);
  ASSERT_TRUE(baseline_bytes && progressive_bytes);
  const uint64_t pixels = static_cast<uint64_t>(photo.width()) * static_cast<uint64_t>(photo.height());
  EXPECT_GE(*progressive_bytes, *baseline_bytes + 2 * pixels);
  EXPECT_FALSE(decode_memory_estimate(dir / "missing.jpg", options).has_value());
}

// ---------------------------------------------------------------------------
// The budget

TEST(DecodeBudget, RequestsThatFitTogetherDoNotWait) {
  DecodeBudget budget(100);
  DecodeBudget::Lease a = budget.acquire(60);
  DecodeBudget::Lease b = budget.acquire(40);
  EXPECT_EQ(budget.in_use(), 100u);
  a.release();
  EXPECT_EQ(budget.in_use(), 40u);
  a.release();  // twice: nothing more is given back
  EXPECT_EQ(budget.in_use(), 40u);
}

TEST(DecodeBudget, ARequestThatDoesNotFitWaitsUntilMemoryIsGivenBack) {
  DecodeBudget budget(100);
  DecodeBudget::Lease held = budget.acquire(60);
  std::atomic<bool> got{false};
  std::thread second([&] {
    DecodeBudget::Lease lease = budget.acquire(60);
    got = true;
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(got.load());
  EXPECT_EQ(budget.in_use(), 60u);
  held.release();
  second.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.waiting(), 0u);
}

TEST(DecodeBudget, ARequestLargerThanTheBudgetRunsAloneRatherThanNever) {
  DecodeBudget budget(100);
  DecodeBudget::Lease huge = budget.acquire(500);  // nothing held: it goes
  EXPECT_EQ(budget.in_use(), 500u);
  std::atomic<bool> got{false};
  std::thread small([&] {
    DecodeBudget::Lease lease = budget.acquire(1);
    got = true;
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(got.load());
  huge = DecodeBudget::Lease();  // assigning over a lease gives it back
  small.join();
  EXPECT_TRUE(got.load());
}

TEST(DecodeBudget, FirstComeFirstServedSoALargeImageIsNotStarved) {
  DecodeBudget budget(100);
  DecodeBudget::Lease held = budget.acquire(90);
  std::atomic<int> order{0}, large_at{0}, small_at{0};
  DecodeBudget::Lease large_lease, small_lease;
  std::thread large([&] {
    large_lease = budget.acquire(50);
    large_at = ++order;
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 1; }));
  // 5 bytes would fit beside the 90 held, but the large request asked first.
  std::thread small([&] {
    small_lease = budget.acquire(5);
    small_at = ++order;
  });
  ASSERT_TRUE(eventually([&] { return budget.waiting() == 2; }));
  EXPECT_EQ(order.load(), 0);
  held.release();
  large.join();
  small.join();
  EXPECT_EQ(large_at.load(), 1);
  EXPECT_EQ(small_at.load(), 2);
  EXPECT_EQ(budget.in_use(), 55u);
}

TEST(DecodeBudget, NoCapacityMeansNoLimit) {
  DecodeBudget budget(0);
  DecodeBudget::Lease a = budget.acquire(uint64_t{1} << 40);
  DecodeBudget::Lease b = budget.acquire(uint64_t{1} << 40);
  EXPECT_EQ(budget.waiting(), 0u);
}

TEST(DecodeBudget, AMovedLeaseGivesBackOnce) {
  DecodeBudget budget(100);
  DecodeBudget::Lease first = budget.acquire(30);
  DecodeBudget::Lease second = std::move(first);
  EXPECT_EQ(first.bytes(), 0u);
  EXPECT_EQ(second.bytes(), 30u);
  first.release();
  EXPECT_EQ(budget.in_use(), 30u);
  second.release();
  EXPECT_EQ(budget.in_use(), 0u);
}

// ---------------------------------------------------------------------------
// The loader with a budget

TEST(DecodeBudgetLoader, DecodesTheSameAndGivesEverythingBack) {
  const fs::path photo = test::shared_testdata() / "exif-orientation/Portrait_6.jpg";
  const PreprocessOptions options;
  const ImageLoadResult plain = load_image_for_clip(photo, options);
  ASSERT_TRUE(plain.ok()) << plain.error;
  DecodeBudget tiny(1);  // smaller than any image: each decodes alone
  const ImageLoadResult budgeted = load_image_for_clip(photo, options, &tiny);
  ASSERT_TRUE(budgeted.ok()) << budgeted.error;
  EXPECT_EQ(budgeted.image->chw, plain.image->chw);
  EXPECT_EQ(tiny.in_use(), 0u);
  // A file that fails gives its lease back too.
  const ImageLoadResult missing = load_image_for_clip(photo.parent_path() / "missing.jpg", options, &tiny);
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(tiny.in_use(), 0u);
}

TEST(DecodeBudgetLoader, ManyThreadsThroughASmallBudgetAllFinish) {
  const fs::path folder = test::shared_testdata() / "coco-val";
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() == ".jpg") photos.push_back(entry.path());
    if (photos.size() == 12) break;
  }
  ASSERT_EQ(photos.size(), 12u);
  DecodeBudget budget(2 * kMB);
  std::atomic<size_t> next{0}, decoded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < photos.size(); i = next++) {
        if (load_image_for_clip(photos[i], PreprocessOptions{}, &budget).ok()) ++decoded;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(decoded.load(), photos.size());
  EXPECT_EQ(budget.in_use(), 0u);
}

}  // namespace
}  // namespace imgsearchd
