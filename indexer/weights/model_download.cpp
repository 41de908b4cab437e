// Download with libcurl into "<destination>.part", verify with OpenSSL's
// SHA-256, then fsync + rename so the final name only ever holds a whole,
// verified file.
#include "indexer/weights/model_download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <vector>

#include "store/core/version.h"

namespace imgsearchd {

namespace fs = std::filesystem;
using Kind = DownloadError::Kind;

namespace {

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

// ---------------------------------------------------------------- the .part file

// The partial download, opened for writing and locked (flock) so two pulls of
// the same file cannot write into each other.
class PartFile {
 public:
  explicit PartFile(fs::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw DownloadError(Kind::file_system, "cannot create " + path_.string() + ": " + errno_text(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw DownloadError(Kind::busy, "another imgsearchd process is already downloading into " + path_.string() +
                                          "; wait for it to finish");
    }
    if (::lseek(fd_, 0, SEEK_END) < 0) fail("cannot seek in");
  }
  ~PartFile() { ::close(fd_); }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  const fs::path& path() const { return path_; }

  uint64_t size() const {
    struct stat info {};
    if (::fstat(fd_, &info) != 0) fail("cannot stat");
    return static_cast<uint64_t>(info.st_size);
  }

  // Drops what is there and writes from the start again.
  void truncate() {
    if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) < 0) fail("cannot truncate");
  }

  // Appends; on failure returns false and remembers errno for the message.
  bool write(const char* data, size_t size) {
    while (size > 0) {
      const ssize_t written = ::write(fd_, data, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        write_errno_ = errno;
        return false;
      }
      data += written;
      size -= static_cast<size_t>(written);
    }
    return true;
  }
  int write_errno() const { return write_errno_; }

  void sync() {
    if (::fsync(fd_) != 0) fail("cannot fsync");
  }

  void remove() { ::unlink(path_.c_str()); }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw DownloadError(Kind::file_system, std::string(what) + " " + path_.string() + ": " + errno_text(errno));
  }

  fs::path path_;
  int fd_ = -1;
  int write_errno_ = 0;
};

// Makes a rename inside `folder` durable.
void fsync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw DownloadError(Kind::file_system, "cannot open folder " + folder.string() + ": " + errno_text(errno));
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (result != 0) throw DownloadError(Kind::file_system, "cannot fsync folder " + folder.string() + ": " + errno_text(error));
}

// ---------------------------------------------------------------- libcurl

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw DownloadError(Kind::library, "libcurl failed to initialise");
  });
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

// What the curl callbacks share during one request.
struct Transfer {
  CURL* curl = nullptr;
  PartFile* part = nullptr;
  DownloadProgress* progress = nullptr;
  uint64_t offset = 0;      // bytes of the .part kept (the Range start); 0 after a restart
  bool body_started = false;
  std::optional<uint64_t> content_range_start;  // from the latest response's Content-Range
  bool range_refused = false;                   // the server answered with another range than asked
  long unexpected_status = 0;                   // a body came with a status other than 200/206
  uint64_t received = 0;
  std::exception_ptr error;                     // thrown in a callback; rethrown after curl returns
};

long response_code(CURL* curl) {
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

// The first body byte of the final response: decide whether it continues the
// .part (206 for our range) or replaces it (200: the server sends everything).
bool begin_body(Transfer& transfer) {
  transfer.body_started = true;
  const long code = response_code(transfer.curl);
  if (code != 200 && code != 206) {
    transfer.unexpected_status = code;
    return false;
  }
  if (transfer.offset == 0) return true;
  if (code == 206) {
    if (transfer.content_range_start != transfer.offset) {
      transfer.range_refused = true;
      return false;
    }
    return true;
  }
  transfer.progress->log("the server does not resume downloads (it answered 200 to a Range request); starting again from zero");
  transfer.part->truncate();
  transfer.offset = 0;
  transfer.progress->transfer_started(0);
  return true;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  try {  // no exception may cross libcurl's C frames
    if (!transfer.body_started && !begin_body(transfer)) return 0;  // makes curl stop with CURLE_WRITE_ERROR
  } catch (...) {
    transfer.error = std::current_exception();
    return 0;
  }
  if (!transfer.part->write(data, bytes)) return 0;
  transfer.received += bytes;
  return bytes;
}

// Headers of every response, redirects included; only the last one's
// Content-Range matters, so each status line resets it.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (bytes >= 5 && std::strncmp(data, "HTTP/", 5) == 0) {
    transfer.content_range_start.reset();
  } else if (bytes > 14 && strncasecmp(data, "content-range:", 14) == 0) {
    // "Content-Range: bytes 1000-4999/5000"; the header line is not NUL-terminated.
    const std::string value(data + 14, bytes - 14);
    unsigned long long start = 0;
    if (std::sscanf(value.c_str(), " bytes %llu-", &start) == 1) transfer.content_range_start = start;
  }
  return bytes;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
  auto& transfer = *static_cast<Transfer*>(user);
  if (!transfer.body_started) return 0;  // until then we do not know whether the .part is kept
  const uint64_t whole = total > 0 ? transfer.offset + static_cast<uint64_t>(total) : 0;
  try {  // no exception may cross libcurl's C frames
    transfer.progress->transferred(transfer.offset + static_cast<uint64_t>(now), whole);
  } catch (...) {
    transfer.error = std::current_exception();
    return 1;  // aborts the transfer
  }
  return 0;
}

// ---------------------------------------------------------------- messages

std::string where_to_put_it(const DownloadRequest& request, const fs::path& destination) {
  return "Without network access, download\n  " + request.url + "\nelsewhere and put the file at\n  " +
         destination.string() + "\n(its SHA-256 must be " + request.sha256 + "; check with `sha256sum " +
         destination.string() + "`).";
}

std::string curl_error_text(CURL* curl, CURLcode code, const char* error_buffer) {
  std::string text = error_buffer[0] ? error_buffer : curl_easy_strerror(code);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (os_errno != 0) {
    const std::string os_text = errno_text(static_cast<int>(os_errno));
    if (text.find(os_text) == std::string::npos) text += " (" + os_text + ")";
  }
  return text;
}

std::string lower_case(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// ---------------------------------------------------------------- one request

enum class Attempt { complete, resume_refused };

struct Fetched {
  Attempt attempt = Attempt::complete;
  uint64_t kept = 0;      // bytes of the earlier .part that this request continued (0 after a restart)
  uint64_t received = 0;  // body bytes this request wrote
};

// One GET into the .part, with a Range for what it already holds.
Fetched fetch(const DownloadRequest& request, const fs::path& destination, const DownloadOptions& options,
              PartFile& part, DownloadProgress& progress) {
  CurlHandle handle(curl_easy_init());
  if (!handle) throw DownloadError(Kind::library, "libcurl could not create a handle");
  CURL* curl = handle.get();

  Transfer transfer;
  transfer.curl = curl;
  transfer.part = &part;
  transfer.progress = &progress;
  transfer.offset = part.size();

  char error_buffer[CURL_ERROR_SIZE] = {};
  const std::string range = std::to_string(transfer.offset) + "-";
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);  // 4xx/5xx: no body into the .part
  const std::string user_agent = std::string("imgsearchd/") + kVersion;
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  // CURLOPT_RANGE rather than CURLOPT_RESUME_FROM: the latter makes curl
  // fail on a 200 answer, where we want to start again from zero.
  if (transfer.offset > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);

  if (transfer.offset > 0) {
    progress.log("resuming " + destination.filename().string() + " from byte " + std::to_string(transfer.offset) +
                 " (" + format_bytes(transfer.offset) + " already in " + part.path().string() + ")");
  }
  progress.transfer_started(transfer.offset);
  const CURLcode result = curl_easy_perform(curl);
  progress.transfer_ended();
  if (transfer.error) std::rethrow_exception(transfer.error);
  const Fetched refused{Attempt::resume_refused, transfer.offset, transfer.received};

  if (transfer.range_refused) return refused;
  const long code = response_code(curl);
  if (result == CURLE_HTTP_RETURNED_ERROR && code == 416 && transfer.offset > 0) return refused;
  if (result == CURLE_WRITE_ERROR && part.write_errno() != 0) {
    throw DownloadError(Kind::file_system, "cannot write " + part.path().string() + ": " + errno_text(part.write_errno()));
  }
  if (transfer.unexpected_status != 0 || (result == CURLE_OK && code != 200 && code != 206)) {
    throw DownloadError(Kind::http, "could not download " + request.url + ": the server answered HTTP " +
                                        std::to_string(code) + " instead of the file.\n" +
                                        where_to_put_it(request, destination));
  }
  if (result == CURLE_HTTP_RETURNED_ERROR) {
    throw DownloadError(Kind::http, "could not download " + request.url + ": the server answered HTTP " +
                                        std::to_string(code) + ".\n" + where_to_put_it(request, destination));
  }
  if (result != CURLE_OK) {
    std::string message = "could not download " + request.url + ": " + curl_error_text(curl, result, error_buffer) + ".\n";
    if (const uint64_t kept = part.size(); kept > 0) {
      message += "The " + std::to_string(kept) + " bytes received so far are kept in " + part.path().string() +
                 "; run the same command again to resume.\n";
    }
    throw DownloadError(Kind::network, message + where_to_put_it(request, destination));
  }
  // A 200 with an empty body never reached on_body: still, it replaces the .part.
  if (!transfer.body_started && !begin_body(transfer)) return refused;
  return Fetched{Attempt::complete, transfer.offset, transfer.received};
}

// Hash, then make the verified .part the final file, durably.
void finish_file(const DownloadRequest& request, const fs::path& destination, PartFile& part, DownloadProgress& progress) {
  progress.log("verifying the SHA-256 of " + part.path().string());
  const std::string found = sha256_of_file(part.path());
  if (found != request.sha256) {
    part.remove();
    throw DownloadError(Kind::checksum, "the file downloaded from " + request.url + " has SHA-256 " + found +
                                            ", expected " + request.sha256 + "; deleted it (" +
                                            part.path().string() +
                                            "). The server or a proxy sent something else, or the URL and "
                                            "checksum do not belong together.");
  }
  part.sync();
  std::error_code error;
  fs::rename(part.path(), destination, error);
  if (error) {
    throw DownloadError(Kind::file_system,
                        "cannot rename " + part.path().string() + " to " + destination.string() + ": " + error.message());
  }
  fsync_folder(destination.parent_path());
}

}  // namespace

// ---------------------------------------------------------------- public

std::string format_bytes(uint64_t bytes) {
  static const char* const units[] = {"KiB", "MiB", "GiB", "TiB"};
  char text[32];
  if (bytes < 1024) {
    std::snprintf(text, sizeof text, "%" PRIu64 " B", bytes);
    return text;
  }
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

bool is_sha256_hex(const std::string& text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

fs::path partial_path(const fs::path& destination) {
  fs::path part = destination;
  part += ".part";
  return part;
}

std::string sha256_of_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DownloadError(Kind::file_system, "cannot read " + path.string() + ": " + errno_text(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    throw DownloadError(Kind::library, "OpenSSL could not start a SHA-256 digest of " + path.string());
  }
  std::vector<char> buffer(1 << 20);
  for (;;) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      throw DownloadError(Kind::file_system, "cannot read " + path.string() + ": " + errno_text(error));
    }
    EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(got));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest, &length);
  static const char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 15];
  }
  return text;
}

DownloadResult download_file(const DownloadRequest& raw_request, const DownloadOptions& options) {
  if (raw_request.url.rfind("http://", 0) != 0 && raw_request.url.rfind("https://", 0) != 0) {
    throw InvalidInput("download URL must start with http:// or https://, got '" + raw_request.url + "'");
  }
  if (!is_sha256_hex(raw_request.sha256)) {
    throw InvalidInput("expected SHA-256 must be 64 hex digits, got '" + raw_request.sha256 + "'");
  }
  if (raw_request.destination.empty() || !raw_request.destination.has_filename()) {
    throw InvalidInput("download destination must be a file path, got '" + raw_request.destination.string() + "'");
  }
  DownloadRequest request = raw_request;
  request.sha256 = lower_case(request.sha256);
  const fs::path destination = fs::absolute(request.destination).lexically_normal();

  DownloadResult result;
  result.path = destination;
  DownloadProgress silent;
  DownloadProgress& progress = options.progress ? *options.progress : silent;

  std::error_code error;
  const fs::file_status status = fs::status(destination, error);
  if (fs::exists(status)) {
    if (!fs::is_regular_file(status)) {
      throw DownloadError(Kind::file_system, destination.string() + " exists and is not a regular file");
    }
    const std::string found = sha256_of_file(destination);
    if (found == request.sha256) {
      progress.log(destination.string() + " is already present with the right SHA-256");
      result.outcome = DownloadResult::Outcome::already_present;
      return result;
    }
    progress.log(destination.string() + " exists but its SHA-256 is " + found + ", expected " + request.sha256 +
                 "; downloading it again");
  }

  fs::create_directories(destination.parent_path(), error);
  if (error) {
    throw DownloadError(Kind::file_system, "cannot create folder " + destination.parent_path().string() + ": " + error.message());
  }

  init_curl_once();
  PartFile part(partial_path(destination));
  progress.log("downloading " + request.url + "\n  to " + destination.string());
  try {
    // At most two requests: when the server refuses to resume (416, or another
    // range than asked), the .part may already be whole; if not, start over once.
    for (int attempt = 0;; ++attempt) {
      const Fetched fetched = fetch(request, destination, options, part, progress);
      result.resumed_from = fetched.kept;
      result.bytes_received = fetched.received;
      if (fetched.attempt == Attempt::complete) break;
      if (sha256_of_file(part.path()) == request.sha256) break;
      if (attempt > 0) {
        throw DownloadError(Kind::http, "could not download " + request.url +
                                            ": the server refused to send the file from byte 0.\n" +
                                            where_to_put_it(request, destination));
      }
      progress.log("the server cannot resume this download; starting again from zero");
      part.truncate();
    }
  } catch (const DownloadError& e) {
    // Keep a non-empty .part for the next resume; an empty one is only clutter.
    if (e.kind() != Kind::busy && part.size() == 0) part.remove();
    throw;
  }
  finish_file(request, destination, part, progress);
  progress.log("saved " + destination.string() + " (" + format_bytes(fs::file_size(destination)) + ", SHA-256 verified)");
  result.outcome = DownloadResult::Outcome::downloaded;
  return result;
}

}  // namespace imgsearchd
