// What wakes a service when another service sharing its catalogue commits,
// so its vector index follows at once instead of at its next poll. The
// PostgreSQL catalogue announces every commit on a channel (LISTEN/NOTIFY,
// on a connection of the listener's own); SQLite has one writer and never
// announces anything (its listener only sleeps). Polling stays the fallback:
// an announcement can be missed while the connection is down.
//
// Threads: wait() from one thread at a time; interrupt() from any thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace imgsearchd {

class ChangeListener {
 public:
  enum class Wake {
    notified,     // a commit was announced (`generation`: the newest announced)
    connected,    // it (re)connected just now: commits made meanwhile were not announced, so look
    timeout,      // nothing announced within the timeout
    interrupted,  // interrupt() was called
  };
  struct Woken {
    Wake why = Wake::timeout;
    uint64_t generation = 0;
  };

  virtual ~ChangeListener() = default;

  // Waits until a commit (of any service, this one's included) is
  // announced, `timeout` passes or interrupt() is called, whichever comes
  // first. Announcements that arrived since the last call return at once.
  // The first call connects and returns `connected`. Throws StoreError
  // naming the catalogue when it cannot connect or the connection is lost;
  // the next call connects again (the caller chooses the backoff).
  virtual Woken wait(std::chrono::milliseconds timeout) = 0;
  // Makes the wait in progress, or else the next one, return `interrupted`
  // at once.
  virtual void interrupt() = 0;
};

}  // namespace imgsearchd
