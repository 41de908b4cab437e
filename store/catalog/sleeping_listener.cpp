#include "store/catalog/sleeping_listener.h"

namespace imgsearchd {

ChangeListener::Woken SleepingListener::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (first_) {
    first_ = false;  // as a listener that has just connected
    return {Wake::connected, 0};
  }
  if (wake_.wait_for(lock, timeout, [this] { return interrupted_; })) {
    interrupted_ = false;
    return {Wake::interrupted, 0};
  }
  return {Wake::timeout, 0};
}

void SleepingListener::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  interrupted_ = true;
  wake_.notify_all();
}

}  // namespace imgsearchd
