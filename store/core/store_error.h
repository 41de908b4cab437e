// The one exception the store throws for what ends an operation on its files:
// a database or index file that cannot be opened, read or written, a corrupt
// catalogue, a catalogue written by a newer imgsearchd. The message always
// names the file. Caller errors (a wrong vector length, an unknown model)
// are std::invalid_argument instead.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

namespace imgsearchd {

class StoreError : public std::runtime_error {
 public:
  StoreError(const std::filesystem::path& file, const std::string& message)
      : std::runtime_error(file.string() + ": " + message), file_(file) {}

  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

}  // namespace imgsearchd
