// The stat signature of a file as the fast path compares it, taken from a
// struct stat (stat, lstat, fstat or fstatat all give one).
#pragma once

#include <sys/stat.h>

#include "store/core/content_id.h"

namespace imgsearchd {

inline StatSignature stat_signature_of(const struct stat& st) {
  StatSignature signature;
  signature.device = static_cast<uint64_t>(st.st_dev);
  signature.inode = static_cast<uint64_t>(st.st_ino);
  signature.size = static_cast<uint64_t>(st.st_size);
  signature.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return signature;
}

}  // namespace imgsearchd
