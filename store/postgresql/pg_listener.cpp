#include "store/postgresql/pg_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "store/core/store_error.h"

namespace imgsearchd {
namespace {

using Clock = std::chrono::steady_clock;

// The listening connection carries no traffic while nothing is committed:
// TCP keepalives notice a server that vanished without closing it (about a
// minute) rather than the system's default of hours. A dsn may set its own.
// (Unix sockets ignore them.) A connect that hangs gives up after 10 s.
const std::vector<std::pair<std::string, std::string>> kListenDefaults = {
    {"connect_timeout", "10"},
    {"keepalives_idle", "30"},
    {"keepalives_interval", "10"},
    {"keepalives_count", "3"},
    {"application_name", "imgsearchd listener"},
};

uint64_t parse_generation(const std::string& payload) {
  try {
    return std::stoull(payload);
  } catch (const std::exception&) {
    return 0;  // not ours, or garbled: still an announcement worth a look
  }
}

}  // namespace

PgChangeListener::PgChangeListener(const CatalogLocation& location, std::filesystem::path name)
    : location_(location), name_(std::move(name)), wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (wake_fd_ < 0) throw StoreError(name_, std::string("cannot make an eventfd to listen with: ") + std::strerror(errno));
}

PgChangeListener::~PgChangeListener() { ::close(wake_fd_); }

void PgChangeListener::interrupt() {
  const uint64_t one = 1;
  // Cannot fail but for a counter at its maximum, which is readable anyway.
  [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
}

void PgChangeListener::connect() {
  try {
    db_ = std::make_unique<pg::Connection>(location_.dsn, location_.password_file.string(), kListenDefaults);
    db_->exec(std::string("LISTEN ") + kCommitChannel);
  } catch (const pg::PgError& e) {
    db_.reset();
    throw StoreError(name_, std::string("cannot listen for commits: ") + e.what());
  }
}

void PgChangeListener::lost(const std::string& what) {
  const std::string message = db_ ? db_->last_error() : std::string("no connection");
  db_.reset();
  throw StoreError(name_, "the connection listening for commits was lost (" + what + "): " + message);
}

ChangeListener::Woken PgChangeListener::wait(std::chrono::milliseconds timeout) {
  if (!db_ || db_->broken()) {
    connect();
    return {Wake::connected, 0};
  }
  const Clock::time_point until = Clock::now() + timeout;
  while (true) {
    // What arrived already (with an earlier read, or since the last wait).
    if (!db_->consume_input() || db_->broken()) lost("reading");
    const std::vector<std::string> payloads = db_->take_notifications(kCommitChannel);
    if (!payloads.empty()) {
      uint64_t newest = 0;
      for (const std::string& payload : payloads) newest = std::max(newest, parse_generation(payload));
      return {Wake::notified, newest};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return {Wake::timeout, 0};
    pollfd fds[2] = {{db_->socket(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int ready = ::poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (ready < 0 && errno != EINTR) lost(std::string("poll: ") + std::strerror(errno));
    if (ready > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count = 0;
      [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof count);  // consumes the interrupt
      return {Wake::interrupted, 0};
    }
    // The socket is readable (or closed: consume_input says so), or it timed out: look again.
  }
}

}  // namespace imgsearchd
