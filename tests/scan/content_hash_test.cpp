#include "indexer/scan/content_hash.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/files.h"
#include "tests/support/process.h"
#include "tests/support/scratch.h"
#include "tests/support/unprivileged.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using test::fresh_dir;
using test::write_file;

// What the independent tool says: the first word of `xxhsum -H2 FILE`
// (its output captured in `scratch`).
std::string xxhsum_h2(const fs::path& file, const fs::path& scratch) {
  const test::CommandResult run = test::run_command({"xxhsum", "-H2", file.string()}, scratch);
  if (run.exit_code != 0) return "(xxhsum failed; install Debian's xxhash package: " + run.out + ")";
  return run.out.substr(0, run.out.find(' '));
}

std::string read_all(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

TEST(ContentHash, EqualsXxhsumAndTheMemoryHash) {
  const fs::path folder = fresh_dir("scan");
  write_file(folder / "empty.jpg", "");
  write_file(folder / "hello.txt", "hello");
  write_file(folder / "one-buffer.bin", random_bytes(1 << 20, 1));         // exactly one read buffer
  write_file(folder / "one-buffer-plus.bin", random_bytes((1 << 20) + 1, 2));
  write_file(folder / "multi-mb.bin", random_bytes(5 * 1000 * 1000 + 17, 3));
  std::vector<fs::path> files{folder / "empty.jpg", folder / "hello.txt", folder / "one-buffer.bin",
                              folder / "one-buffer-plus.bin", folder / "multi-mb.bin"};
  files.push_back(fs::path(IMGSEARCHD_SHARED_DIR) / "testdata/coco-val/000000000139.jpg");  // a real photo

  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const FileHashResult result = hash_file(file);
    ASSERT_TRUE(result.ok()) << result.message;
    EXPECT_EQ(result.file->hash.hex(), xxhsum_h2(file, fresh_dir("scan-xxhsum")));
    const std::string bytes = read_all(file);
    EXPECT_EQ(hash_bytes(bytes.data(), bytes.size()), result.file->hash);
  }
  // Known value, so the test also fails if xxhsum and this code agree on something else.
  EXPECT_EQ(hash_file(folder / "empty.jpg").file->hash.hex(), "99aa06d3014798d86001c324468d497f");
  EXPECT_NE(hash_file(folder / "one-buffer.bin").file->hash, hash_file(folder / "one-buffer-plus.bin").file->hash);
}

TEST(ContentHash, GivesTheSignatureOfWhatItRead) {
  const fs::path folder = fresh_dir("scan");
  write_file(folder / "a.jpg", "some bytes");
  const struct timespec times[2] = {{1'500'000'000, 0}, {1'500'000'000, 42}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (folder / "a.jpg").c_str(), times, 0), 0);
  struct stat st;
  ASSERT_EQ(::stat((folder / "a.jpg").c_str(), &st), 0);
  const FileHashResult result = hash_file(folder / "a.jpg");
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.file->signature.device, static_cast<uint64_t>(st.st_dev));
  EXPECT_EQ(result.file->signature.inode, static_cast<uint64_t>(st.st_ino));
  EXPECT_EQ(result.file->signature.size, 10u);
  EXPECT_EQ(result.file->signature.mtime_ns, 1'500'000'000'000'000'042LL);
}

TEST(ContentHash, MissingFileIsAValueNamingIt) {
  const fs::path folder = fresh_dir("scan");
  const FileHashResult result = hash_file(folder / "missing.jpg");
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.error, HashError::vanished);
  EXPECT_NE(result.message.find((folder / "missing.jpg").string()), std::string::npos) << result.message;
}

TEST(ContentHash, FolderAndFifoAreNotRegularFilesAndDoNotBlock) {
  const fs::path folder = fresh_dir("scan");
  ASSERT_EQ(::mkfifo((folder / "pipe.jpg").c_str(), 0644), 0);  // opening it must not wait for a writer
  for (const fs::path& path : {folder, folder / "pipe.jpg"}) {
    const FileHashResult result = hash_file(path);
    EXPECT_FALSE(result.ok());
    EXPECT_EQ(result.error, HashError::not_a_regular_file) << result.message;
    EXPECT_NE(result.message.find(path.string()), std::string::npos) << result.message;
  }
}

TEST(ContentHash, UnreadableFileIsAValueNamingIt) {
  // Where nobody can reach the file (the build tree may sit below a 0700 folder).
  const test::WorldScratch scratch;
  const fs::path folder = scratch.path();
  write_file(folder / "secret.jpg", "bytes");
  fs::permissions(folder / "secret.jpg", fs::perms::none);
  const fs::path file = folder / "secret.jpg";
  const test::ChildOutcome outcome = test::run_unprivileged([&]() -> std::string {
    const FileHashResult result = hash_file(file);
    if (result.ok()) return "an unreadable file was hashed";
    if (result.error != HashError::unreadable) return "wrong error kind: " + result.message;
    if (result.message.find(file.string()) == std::string::npos) return "message does not name the file: " + result.message;
    return "";
  });
  ASSERT_TRUE(outcome.ran) << "could not run the check as the unprivileged user nobody";
  EXPECT_EQ(outcome.failure, "");
}

}  // namespace
}  // namespace imgsearchd
