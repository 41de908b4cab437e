#include "daemon/service/service_signals.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace imgsearchd {
namespace {

sigset_t service_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Async-signal-safe: write(2) and _exit(2) only.
void exit_at_once(int signal_number) {
  static const char message[] = "imgsearchd: second stop signal: exiting at once\n";
  ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
  ::_exit(128 + signal_number);
}

}  // namespace

ServiceSignals::ServiceSignals() {
  const sigset_t set = service_signal_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

ServiceSignals::~ServiceSignals() {
  const sigset_t set = service_signal_set();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

ServiceSignals::Event ServiceSignals::wait(std::chrono::milliseconds timeout) {
  const sigset_t set = service_signal_set();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timespec wait_for{};
  wait_for.tv_sec = static_cast<time_t>(seconds.count());
  wait_for.tv_nsec = static_cast<long>(std::chrono::nanoseconds(timeout - seconds).count());
  const int got = sigtimedwait(&set, nullptr, &wait_for);
  if (got < 0) return Event::none;  // EAGAIN (timeout) or EINTR
  last_signal_ = got;
  return got == SIGHUP ? Event::reload : Event::stop;
}

void ServiceSignals::make_next_stop_immediate() {
  struct sigaction action = {};
  action.sa_handler = exit_at_once;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // Unblocked in this thread only: the kernel hands the next one to it.
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  pthread_sigmask(SIG_UNBLOCK, &stops, nullptr);
}

}  // namespace imgsearchd
