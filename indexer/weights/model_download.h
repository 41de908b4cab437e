// Downloads one file over HTTP(S) and verifies its SHA-256, so that a file
// under its final name is always whole and the right one: the bytes go to
// "<destination>.part" (kept between runs and resumed with a Range request),
// and only a file whose hash matches is renamed to the final name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "store/core/errors.h"

namespace imgsearchd {

// Why a download failed. Another process downloading the same file is Busy;
// every other failure leaves the model unavailable (store/core/errors.h).
class DownloadError : public Error {
 public:
  enum class Kind {
    network,      // no connection, DNS failure, timeout, transfer cut off
    http,         // the server answered with an error status (404, 500...)
    checksum,     // the file arrived but its SHA-256 is not the expected one
    file_system,  // cannot create, write or rename the file
    busy,         // another process is downloading the same file
    library,      // libcurl or OpenSSL could not start
  };
  DownloadError(Kind kind, const std::string& message)
      : Error(kind == Kind::busy ? ErrorKind::busy : ErrorKind::unavailable, message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct DownloadRequest {
  std::string url;                    // http:// or https://; redirects are followed
  std::string sha256;                 // expected SHA-256, 64 hex digits (either case)
  std::filesystem::path destination;  // the final file; its folder is created if missing
};

// What a download reports while it runs: log lines (what it does, where the
// file goes, a resume, the verification) and the bytes done of the whole
// file. It draws nothing itself; the command line's bar and log lines are in
// daemon/terminal/download_progress.h. Every method does nothing by default.
class DownloadProgress {
 public:
  virtual ~DownloadProgress() = default;
  virtual void log(const std::string& /*line*/) {}
  // A request starts; `already_have` bytes of the file are on disk.
  virtual void transfer_started(uint64_t /*already_have*/) {}
  // `done` and `total` count the whole file (total 0 = not known yet).
  virtual void transferred(uint64_t /*done*/, uint64_t /*total*/) {}
  // The request ended, successfully or not.
  virtual void transfer_ended() {}
};

struct DownloadOptions {
  DownloadProgress* progress = nullptr;  // nullptr: report nothing
  long connect_timeout_s = 30;
  // A transfer slower than 1 KiB/s for this long is given up (the .part stays for a resume).
  long stall_timeout_s = 60;
};

struct DownloadResult {
  enum class Outcome {
    already_present,  // the destination existed with the right hash: no request made
    downloaded,
  };
  Outcome outcome = Outcome::downloaded;
  uint64_t resumed_from = 0;       // bytes of an earlier .part that were kept (0: from the start)
  uint64_t bytes_received = 0;     // body bytes received by the request that completed the file
  std::filesystem::path path;      // the final file (absolute)
};

// Makes `request.destination` hold the file at `request.url` with the
// expected SHA-256. If the destination already holds it, does nothing.
// Otherwise downloads to "<destination>.part", resuming an existing .part
// when the server answers a Range request with 206 and starting again from
// zero when it answers 200; verifies the SHA-256 of the whole file; then
// fsyncs it, renames it to the destination and fsyncs the folder.
// Throws InvalidInput for a malformed request (a URL that is not http(s), a
// checksum that is not 64 hex digits, a destination without a file name), and
// DownloadError for everything else. On a checksum mismatch the .part is deleted; on a
// network failure it is kept (if not empty) so the next call resumes. Every
// network or HTTP failure message names the URL, the error, the full path
// where a file obtained elsewhere belongs, and its expected SHA-256.
DownloadResult download_file(const DownloadRequest& request, const DownloadOptions& options = {});

// The SHA-256 of a file, as 64 lower-case hex digits. Throws DownloadError
// (file_system) naming the file when it cannot be read.
std::string sha256_of_file(const std::filesystem::path& path);

// "337.6 MiB", "12 B": sizes as the download's messages show them.
std::string format_bytes(uint64_t bytes);

// True for 64 hex digits.
bool is_sha256_hex(const std::string& text);

// The path of the partial download for a destination: "<destination>.part".
std::filesystem::path partial_path(const std::filesystem::path& destination);

}  // namespace imgsearchd
