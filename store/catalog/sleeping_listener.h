// Internal to store/catalog: the change listener of a catalogue that never
// announces commits (SQLite: one writer, whose own index applies every
// commit). A wait only sleeps until its timeout or an interrupt.
#pragma once

#include <condition_variable>
#include <mutex>

#include "store/core/change_listener.h"

namespace imgsearchd {

class SleepingListener final : public ChangeListener {
 public:
  Woken wait(std::chrono::milliseconds timeout) override;
  void interrupt() override;

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool interrupted_ = false;
  bool first_ = true;
};

}  // namespace imgsearchd
