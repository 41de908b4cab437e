// Reading and writing whole files in tests.
#pragma once

#include <filesystem>
#include <string>

namespace imgsearchd::test {

// The file's bytes; empty if it cannot be read.
std::string read_text(const std::filesystem::path& file);

// Replaces the file's content (the folder must exist).
void write_text(const std::filesystem::path& file, const std::string& text);

// Writes `content` to `file`, creating the folders above it; a failure fails the test.
void write_file(const std::filesystem::path& file, const std::string& content = "x");

// Different bytes, same picture: a JPEG decoder ignores what follows the
// end-of-image marker, so the file hashes as new content and still decodes.
void append_bytes(const std::filesystem::path& file, const std::string& bytes = "modified");

}  // namespace imgsearchd::test
