// The signals a service answers, read on the thread that waits for them
// (sigtimedwait), never in an asynchronous handler, so acting on them may
// take locks, log and allocate:
//   SIGTERM, SIGINT  stop: finish the batch in flight, commit, save, exit 0
//   SIGHUP           reload the configuration
// After the first stop, make_next_stop_immediate() arms the second one to
// end the process at once (the catalogue stays consistent: it is SQLite).
#pragma once

#include <chrono>

namespace imgsearchd {

class ServiceSignals {
 public:
  enum class Event { none, stop, reload };

  // Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Threads started
  // afterwards inherit the mask, so only wait() sees these signals: create
  // this first in main, before any thread.
  ServiceSignals();
  ~ServiceSignals();
  ServiceSignals(const ServiceSignals&) = delete;
  ServiceSignals& operator=(const ServiceSignals&) = delete;

  // The next of these signals, or none after `timeout`.
  Event wait(std::chrono::milliseconds timeout);
  // The number of the signal wait() last returned (SIGTERM, SIGHUP, ...).
  int last_signal() const { return last_signal_; }

  // From now on SIGTERM or SIGINT ends the process at once with exit code
  // 128 + the signal, whichever thread is busy with what.
  void make_next_stop_immediate();

 private:
  int last_signal_ = 0;
};

}  // namespace imgsearchd
