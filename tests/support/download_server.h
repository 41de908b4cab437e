// The loopback download server: a real HTTP server on 127.0.0.1 (a free port) that serves one test file
// under any name ending in .bin or .pt, honouring Range requests unless told
// otherwise, and records what it was asked and what it sent.
#pragma once

#include <httplib.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace imgsearchd::test {

class FileServer {
 public:
  enum class Mode {
    honour_range,   // 206 with the asked range, like OpenAI's CDN
    ignore_range,   // 200 with the whole file whatever the Range header says
    cut_off_first,  // the first request gets half the body, then the connection is closed
    wrong_range,    // a Range request gets 206 with the whole file ("bytes 0-...")
  };

  struct SeenRequest {
    std::string path;
    std::string range;      // the Range header, empty if none
    size_t body_bytes = 0;  // body bytes the server sent
  };

  explicit FileServer(std::string content, Mode mode = Mode::honour_range);
  ~FileServer();
  FileServer(const FileServer&) = delete;
  FileServer& operator=(const FileServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/file.bin") const;
  const std::string& content() const { return content_; }
  std::vector<SeenRequest> requests() const;

 private:
  size_t record(const httplib::Request& request);
  void add_sent(size_t index, size_t bytes);

  const std::string content_;
  const Mode mode_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::atomic<int> file_requests_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
};

// A port on 127.0.0.1 where nothing listens (bound, then released).
int closed_port();

// Deterministic pseudo-random bytes.
std::string test_bytes(size_t size, unsigned seed);

// SHA-256 as lower-case hex, computed here with OpenSSL's one-shot digest.
std::string sha256_hex(const std::string& data);

}  // namespace imgsearchd::test
