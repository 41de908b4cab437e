#include "indexer/scan/content_hash.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "indexer/scan/stat_signature.h"

namespace imgsearchd {
namespace {

// Large reads keep the syscall count low on multi-megabyte photos; one buffer
// per hashing thread, reused for every file.
constexpr size_t kReadBufferSize = 1 << 20;

ContentHash to_content_hash(const XXH128_hash_t& h) {
  ContentHash hash;
  hash.high = h.high64;
  hash.low = h.low64;
  return hash;
}

FileHashResult failure(HashError error, const std::filesystem::path& file, const std::string& what) {
  FileHashResult result;
  result.error = error;
  result.message = "cannot hash " + file.string() + ": " + what;
  return result;
}

HashError error_for_errno(int error) {
  return (error == ENOENT || error == ENOTDIR) ? HashError::vanished : HashError::unreadable;
}

// Closes the descriptor on every path out of hash_file.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

struct StateDeleter {
  void operator()(XXH3_state_t* state) const { XXH3_freeState(state); }
};

}  // namespace

FileHashResult hash_file(const std::filesystem::path& file) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  // It is cleared again once fstat says this is a regular file.
  FileDescriptor descriptor;
  descriptor.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (descriptor.fd < 0) {
    const int error = errno;
    return failure(error_for_errno(error), file, std::strerror(error));
  }
  const int fd = descriptor.fd;

  struct stat before;
  if (::fstat(fd, &before) != 0) {
    const int error = errno;
    return failure(HashError::unreadable, file, std::string("fstat failed: ") + std::strerror(error));
  }
  if (!S_ISREG(before.st_mode)) return failure(HashError::not_a_regular_file, file, "not a regular file");
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  // Advice only: a failure changes nothing but speed.
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) {
    return failure(HashError::unreadable, file, "out of memory for the hash state");
  }

  thread_local std::vector<unsigned char> buffer(kReadBufferSize);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      const int error = errno;
      if (error == EINTR) continue;
      return failure(HashError::unreadable, file, std::string("read failed: ") + std::strerror(error));
    }
    XXH3_128bits_update(state.get(), buffer.data(), static_cast<size_t>(n));
  }

  // A writer still busy with the file would give a hash of half a file:
  // refuse it so the caller retries once the file settles.
  struct stat after;
  if (::fstat(fd, &after) != 0) {
    const int error = errno;
    return failure(HashError::unreadable, file, std::string("fstat failed: ") + std::strerror(error));
  }
  const StatSignature signature = stat_signature_of(before);
  if (stat_signature_of(after) != signature) {
    return failure(HashError::changed_while_reading, file, "the file changed while it was being read");
  }

  FileHashResult result;
  result.file = HashedFile{to_content_hash(XXH3_128bits_digest(state.get())), signature};
  return result;
}

ContentHash hash_bytes(const void* data, size_t size) {
  return to_content_hash(XXH3_128bits(data, size));
}

}  // namespace imgsearchd
