// The one exception the store throws for what ends an operation on its files:
// a database or index file that cannot be opened, read or written, a corrupt
// catalogue, a catalogue written by a newer imgsearchd. The message always
// names the file. The store is unavailable (errors.h); caller errors (a wrong
// vector length, an unknown model) are InvalidInput instead.
#pragma once

#include <filesystem>
#include <string>

#include "store/core/errors.h"

namespace imgsearchd {

class StoreError : public Error {
 public:
  StoreError(const std::filesystem::path& file, const std::string& message)
      : Error(ErrorKind::unavailable, file.string() + ": " + message), file_(file) {}

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace imgsearchd
