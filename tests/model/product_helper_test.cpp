// A text query's packed products shared with a helper thread
// (indexer/model/product_helper.h): the same numbers as one thread computes,
// the helper doing part of the work on a machine with a second core, and the
// query finishing when the helper is stuck (its core taken by another
// process), with no result of the stuck helper written afterwards.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "indexer/model/packed_linear.h"
#include "indexer/model/product_helper.h"

namespace imgsearchd {
namespace {

struct Layer {
  Layer(int64_t outputs, int64_t inputs, std::mt19937& rng) : weight(outputs * inputs), bias(outputs) {
    std::normal_distribution<float> normal;
    for (float& f : weight) f = normal(rng);
    for (float& f : bias) f = normal(rng);
    packed = std::make_unique<PackedLinear>(weight.data(), bias.data(), outputs, inputs, *PackedLinear::best());
  }
  std::vector<float> weight, bias;
  std::unique_ptr<PackedLinear> packed;
};

std::shared_ptr<const float> random_input(int64_t rows, int64_t inputs, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  auto x = std::make_shared<std::vector<float>>(static_cast<size_t>(rows * inputs));
  for (float& f : *x) f = normal(rng);
  return std::shared_ptr<const float>(x, x->data());
}

std::vector<float> one_thread(const PackedLinear& layer, const float* x, int64_t rows) {
  std::vector<float> y(static_cast<size_t>(rows * layer.outputs()));
  layer.multiply(x, rows, y.data(), 0, layer.panel_pairs());
  return y;
}

class ProductHelperTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!PackedLinear::supported()) GTEST_SKIP() << "this CPU has neither AVX-512F nor AVX2 with FMA";
  }
};

TEST_F(ProductHelperTest, SharedProductsEqualOneThreadsBitForBitAndTheHelperDoesSomeOfThem) {
  std::mt19937 rng(5);
  // The text tower's shapes (ViT-B/32: width 512) and edges: one pair, pairs
  // not a multiple of the task count, 1 to 77 rows.
  std::vector<Layer> layers;
  layers.emplace_back(1536, 512, rng);
  layers.emplace_back(2048, 512, rng);
  layers.emplace_back(512, 2048, rng);
  layers.emplace_back(100, 33, rng);
  layers.emplace_back(32, 8, rng);
  layers.emplace_back(70, 16, rng);
  ProductHelper helper;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int queries = 0;
  // Every product is checked; the queries go on until the helper has finished
  // some tasks (it needs a core: the test's machines have two).
  const bool two_cores = std::thread::hardware_concurrency() >= 2;
  while (queries < 20 || (two_cores && helper.helper_tasks() == 0 && std::chrono::steady_clock::now() < deadline)) {
    const ProductHelper::Session session = helper.session();
    ASSERT_TRUE(session.active());
    for (const int64_t rows : {1, 10, 12, 77}) {
      for (const Layer& layer : layers) {
        const auto x = random_input(rows, layer.packed->inputs(), rng);
        std::vector<float> y(static_cast<size_t>(rows * layer.packed->outputs()), -1.0f);
        helper.multiply(session, *layer.packed, x, rows, y.data());
        ASSERT_EQ(y, one_thread(*layer.packed, x.get(), rows)) << rows << " rows x " << layer.packed->outputs();
      }
    }
    ++queries;
  }
  if (two_cores) {
    EXPECT_GT(helper.helper_tasks(), 0u);
  }
}

TEST_F(ProductHelperTest, AConcurrentQueryRunsAloneAndASessionNotSharedStartsNoHelper) {
  std::mt19937 rng(6);
  const Layer layer(256, 64, rng);
  ProductHelper helper;
  {
    const ProductHelper::Session unshared = helper.session(false);
    EXPECT_FALSE(unshared.active());
  }
  const ProductHelper::Session first = helper.session();
  const ProductHelper::Session second = helper.session();  // another query's, while the first runs
  EXPECT_TRUE(first.active());
  EXPECT_FALSE(second.active());
  const auto x = random_input(9, 64, rng);
  std::vector<float> y(9 * 256);
  helper.multiply(second, *layer.packed, x, 9, y.data());
  EXPECT_EQ(y, one_thread(*layer.packed, x.get(), 9));
}

TEST_F(ProductHelperTest, AQueryFinishesWhenTheHelperIsStuckAndTheStuckHelperWritesNothingLater) {
  std::mt19937 rng(7);
  const Layer layer(2048, 512, rng);
  ProductHelper helper;
  std::mutex mutex;
  std::condition_variable changed;
  bool stuck = false, release = false;
  helper.set_claim_hook_for_tests([&] {
    std::unique_lock<std::mutex> lock(mutex);
    stuck = true;
    changed.notify_all();
    changed.wait(lock, [&] { return release; });  // holds its claimed task until the test lets go
  });
  const auto x = random_input(10, 512, rng);
  const std::vector<float> expected = one_thread(*layer.packed, x.get(), 10);
  std::vector<float> y(expected.size(), -1.0f);
  {
    const ProductHelper::Session session = helper.session();
    // Products until the helper has claimed a task and is stuck on it: each
    // one must still complete, every task of the stuck helper taken over.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (true) {
      std::fill(y.begin(), y.end(), -1.0f);
      helper.multiply(session, *layer.packed, x, 10, y.data());
      ASSERT_EQ(y, expected);
      std::lock_guard<std::mutex> lock(mutex);
      if (stuck || std::chrono::steady_clock::now() > deadline) break;
    }
  }
  ASSERT_TRUE(stuck) << "the helper never claimed a task";
  EXPECT_EQ(helper.helper_tasks(), 0u);
  // The helper comes back: it finds its task taken over and writes nothing.
  // Once it has finished a task of later products, it has left that one.
  std::fill(y.begin(), y.end(), -1.0f);
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  changed.notify_all();
  std::vector<float> later(expected.size());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const bool two_cores = std::thread::hardware_concurrency() >= 2;
  while (two_cores && helper.helper_tasks() == 0 && std::chrono::steady_clock::now() < deadline) {
    const ProductHelper::Session session = helper.session();
    helper.multiply(session, *layer.packed, x, 10, later.data());
    ASSERT_EQ(later, expected);
  }
  if (two_cores) {
    ASSERT_GT(helper.helper_tasks(), 0u);
  }
  EXPECT_EQ(std::count(y.begin(), y.end(), -1.0f), static_cast<std::ptrdiff_t>(y.size()))
      << "the helper wrote a task it had lost";
}

}  // namespace
}  // namespace imgsearchd
