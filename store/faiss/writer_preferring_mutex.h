// Internal to store/: a shared mutex that never lets readers starve a writer.
// glibc's std::shared_mutex prefers readers, so a steady stream of searches
// could keep an index update waiting forever. Here a writer first takes a
// turnstile that every reader also passes through, so readers arriving
// after a waiting writer queue behind it. Written by hand because the
// standard library has no writer-preferring shared mutex.
#pragma once

#include <mutex>
#include <shared_mutex>

namespace imgsearchd {

class WriterPreferringMutex {
 public:
  void lock() {
    std::lock_guard turn(turnstile_);
    mutex_.lock();  // holds the turnstile until the readers inside have left
  }
  void unlock() { mutex_.unlock(); }

  void lock_shared() {
    std::lock_guard turn(turnstile_);
    mutex_.lock_shared();
  }
  void unlock_shared() { mutex_.unlock_shared(); }

 private:
  std::mutex turnstile_;
  std::shared_mutex mutex_;
};

}  // namespace imgsearchd
