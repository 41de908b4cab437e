#include "store/data/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "store/core/store_error.h"

namespace imgsearchd {

namespace fs = std::filesystem;

fs::path catalog_path(const fs::path& data_dir) { return data_dir / "catalog.db"; }

fs::path vector_index_path(const fs::path& data_dir, ModelId model) {
  return data_dir / ("index-" + std::to_string(model) + ".faiss");
}

namespace {

// What the holder wrote: "<pid>" or "<pid> serve".
struct Holder {
  std::string pid;
  bool serve = false;
};

Holder holder_of(int fd) {
  char text[64] = {};
  const ssize_t got = ::pread(fd, text, sizeof text - 1, 0);
  if (got <= 0) return {};
  std::string line(text, static_cast<size_t>(got));
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  Holder holder;
  const size_t space = line.find(' ');
  holder.pid = line.substr(0, space);
  holder.serve = space != std::string::npos && line.substr(space + 1) == "serve";
  return holder;
}

std::string busy_message(const Holder& holder, const fs::path& data_dir, const fs::path& file) {
  const std::string process = holder.pid.empty() ? "" : " (process " + holder.pid + ")";
  if (holder.serve) {
    return "the imgsearchd service" + process + " is running on the data folder " + data_dir.string() +
           " (it holds " + file.string() +
           ") and keeps its index up to date by itself: nothing was changed. `imgsearchd status` shows its "
           "progress; stop the service first to run this here";
  }
  return "another imgsearchd" + process + " is indexing the catalogue in " + data_dir.string() + " (it holds " +
         file.string() + "); wait for it to finish, or stop it, and try again";
}

}  // namespace

WriterLock WriterLock::acquire(const fs::path& data_dir, Role role) {
  fs::create_directories(data_dir);
  const fs::path file = data_dir / "writer.lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw StoreError(file, "cannot open the writer lock: " + std::generic_category().message(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const Holder holder = holder_of(fd);
    ::close(fd);
    if (error == EWOULDBLOCK) throw WriterLockBusy(busy_message(holder, data_dir, file));
    throw StoreError(file, "cannot lock the writer lock: " + std::generic_category().message(error));
  }
  const std::string pid = std::to_string(::getpid()) + (role == Role::serve ? " serve" : "") + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // Only the message for others would lack the pid: not worth failing for.
  }
  return WriterLock(fd);
}

WriterLock::WriterLock(WriterLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

WriterLock::~WriterLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace imgsearchd
