// The files of a data folder and the lock that makes one process its writer:
//
//   <data_dir>/catalog.db             the SQLite catalogue (source of truth)
//   <data_dir>/index-<model id>.faiss the vector index of one model (a cache:
//                                     one per model, so switching back needs
//                                     no rebuild)
//   <data_dir>/writer.lock            held (flock) by the one process that writes
#pragma once

#include <filesystem>
#include <string>

#include "store/catalog/catalog.h"
#include "store/core/errors.h"

namespace imgsearchd {

std::filesystem::path catalog_path(const std::filesystem::path& data_dir);
std::filesystem::path vector_index_path(const std::filesystem::path& data_dir, ModelId model);

// What a user is told when there is nothing to search yet.
inline const char* kNothingIndexedYet = "nothing indexed yet: run imgsearchd index DIR";

// Another process writes this catalogue.
class WriterLockBusy : public Busy {
 public:
  using Busy::Busy;
};

// An exclusive flock on <data_dir>/writer.lock, held while this object
// lives. The kernel releases it when the process ends, however it ends, so a
// kill -9 never leaves a stale lock behind. The file records the holder's
// process id and role for the message others get.
class WriterLock {
 public:
  // What the holder does, for the message others get.
  enum class Role { index, serve };

  // Creates the data folder if needed. Throws WriterLockBusy at once (no
  // waiting) if another process holds the lock, naming it and what it does
  // (a running service keeps the index up to date by itself), StoreError if
  // the file cannot be opened or locked.
  static WriterLock acquire(const std::filesystem::path& data_dir, Role role = Role::index);

  WriterLock(WriterLock&& other) noexcept;
  WriterLock& operator=(WriterLock&&) = delete;
  WriterLock(const WriterLock&) = delete;
  ~WriterLock();

 private:
  explicit WriterLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace imgsearchd
