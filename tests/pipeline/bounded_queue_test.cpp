// The queue between the pipeline's stages: order kept, nothing lost with
// several producers, and closing ends both sides.
#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "indexer/pipeline/bounded_queue.h"

namespace imgsearchd {
namespace {

TEST(BoundedQueue, KeepsOrderAndDrainsAfterClose) {
  BoundedQueue<int> queue(3);
  EXPECT_TRUE(queue.push(1));
  EXPECT_TRUE(queue.push(2));
  queue.close();
  EXPECT_FALSE(queue.push(3)) << "a closed queue takes nothing more";
  EXPECT_EQ(queue.pop(), 1);
  EXPECT_EQ(queue.pop(), 2);
  EXPECT_EQ(queue.pop(), std::nullopt);
}

TEST(BoundedQueue, ManyProducersThroughASmallQueueLoseNothing) {
  BoundedQueue<int> queue(2);
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&queue, p] {
      for (int i = 0; i < 500; ++i) ASSERT_TRUE(queue.push(p * 1000 + i));
    });
  }
  std::thread closer([&] {
    for (auto& producer : producers) producer.join();
    queue.close();
  });
  std::multiset<int> received;
  while (std::optional<int> item = queue.pop()) received.insert(*item);
  closer.join();
  EXPECT_EQ(received.size(), 2000u);
  for (int p = 0; p < 4; ++p)
    for (int i = 0; i < 500; ++i) EXPECT_EQ(received.count(p * 1000 + i), 1u);
}

TEST(BoundedQueue, CloseReleasesAProducerWaitingOnAFullQueue) {
  BoundedQueue<int> queue(1);
  ASSERT_TRUE(queue.push(1));
  bool second_push = true;
  std::thread producer([&] { second_push = queue.push(2); });  // waits: the queue is full
  queue.close();
  producer.join();
  EXPECT_FALSE(second_push);
}

}  // namespace
}  // namespace imgsearchd
