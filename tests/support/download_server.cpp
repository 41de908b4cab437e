#include "tests/support/download_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace imgsearchd::test {

FileServer::FileServer(std::string content, Mode mode) : content_(std::move(content)), mode_(mode) {
  server_.Get(R"(/[\w.-]+\.(bin|pt))", [this](const httplib::Request& request, httplib::Response& response) {
    const size_t index = record(request);
    const bool first = file_requests_++ == 0;
    const bool cut_off = mode_ == Mode::cut_off_first && first;
    if (mode_ != Mode::ignore_range && request.ranges.size() == 1 &&
        request.ranges[0].first >= static_cast<ssize_t>(content_.size())) {
      // Nothing left to send from there: 416, as RFC 9110 says and CDNs do
      // (httplib alone would answer 206 with an empty body).
      response.status = 416;
      response.set_header("Content-Range", "bytes */" + std::to_string(content_.size()));
      return;
    }
    if (mode_ == Mode::ignore_range || mode_ == Mode::wrong_range) {
      // httplib answers Range requests on its own; forgetting the parsed
      // ranges makes it play a server without (or with broken) Range support.
      if (mode_ == Mode::wrong_range && !request.ranges.empty()) {
        response.status = 206;
        response.set_header("Content-Range", "bytes 0-" + std::to_string(content_.size() - 1) + "/" +
                                                 std::to_string(content_.size()));
      }
      const_cast<httplib::Request&>(request).ranges.clear();
    }
    response.set_content_provider(
        content_.size(), "application/octet-stream",
        [this, index, cut_off](size_t offset, size_t length, httplib::DataSink& sink) {
          if (cut_off) length = std::min(length, content_.size() / 2 - std::min(offset, content_.size() / 2));
          if (length > 0 && !sink.write(content_.data() + offset, length)) return false;
          add_sent(index, length);
          return !cut_off;  // false makes httplib close the connection mid-body
        });
  });
  server_.Get("/redirect", [this](const httplib::Request& request, httplib::Response& response) {
    record(request);
    response.set_redirect("/file.bin");
  });

  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("test server: cannot bind to 127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  // stop() is a no-op before the accept loop runs; wait for it so the destructor cannot hang.
  while (!server_.is_running()) std::this_thread::yield();
}

FileServer::~FileServer() {
  server_.stop();
  thread_.join();
}

std::string FileServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<FileServer::SeenRequest> FileServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

size_t FileServer::record(const httplib::Request& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.push_back({request.path, request.get_header_value("Range"), 0});
  return requests_.size() - 1;
}

void FileServer::add_sent(size_t index, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_[index].body_bytes += bytes;
}

int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot find a free port on 127.0.0.1");
  }
  ::close(fd);  // bound but never listened on: connecting is refused
  return ntohs(address.sin_port);
}

std::string test_bytes(size_t size, unsigned seed) {
  std::mt19937 generator(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(generator() & 0xff);
  return bytes;
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest failed");
  }
  static const char hex[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < length; ++i) {
    text += hex[digest[i] >> 4];
    text += hex[digest[i] & 15];
  }
  return text;
}

}  // namespace imgsearchd::test
