#include "api/access.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <cctype>

#include "api/server.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace {
std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}
}  // namespace

ListenAddress parse_listen_address(const std::string& text, const std::string& key) {
  const auto bad = [&](const std::string& why) {
    return InvalidInput(key + ": '" + text + "' " + why + " (expected HOST:PORT, e.g. 127.0.0.1:7878 or [::1]:7878)");
  };
  ListenAddress address;
  size_t port_at = 0;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw bad("is not a bracketed IPv6 address with a port");
    address.host = text.substr(1, close - 1);
    port_at = close + 2;
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) throw bad("has no port");
    if (text.find(':') != colon) throw bad("has an IPv6 address without brackets");
    address.host = text.substr(0, colon);
    port_at = colon + 1;
  }
  const std::string port = text.substr(port_at);
  if (address.host.empty()) throw bad("has no host");
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit)) throw bad("has a bad port");
  address.port = std::stoi(port);
  if (address.port > 65535) throw bad("has a port above 65535");
  return address;
}

std::string load_api_token(const std::string& token, const std::filesystem::path& token_file) {
  if (token_file.empty()) return token;
  if (!token.empty()) throw InvalidInput("api.token and api.token_file are both set: keep one");
  std::ifstream in(token_file, std::ios::binary);
  if (!in) throw InvalidInput("api.token_file: cannot read " + token_file.string() + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw InvalidInput("api.token_file: " + token_file.string() + " is empty");
  const size_t last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

namespace api {

bool is_loopback_host(const std::string& host) {
  const std::string name = lower(host);
  if (name == "localhost" || name == "::1") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, name.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

bool is_wildcard_host(const std::string& host) { return host == "0.0.0.0" || host == "::" || host == "*"; }

bool tokens_equal(const std::string& given, const std::string& expected) {
  // Every byte of the expected token is compared, whatever `given` is.
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    difference |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
  }
  return difference == 0 && !expected.empty();
}

std::string bearer_token(const std::string& authorization) {
  constexpr size_t kScheme = 7;  // "Bearer "
  if (authorization.size() <= kScheme || lower(authorization.substr(0, kScheme)) != "bearer ") return {};
  size_t start = kScheme;
  while (start < authorization.size() && authorization[start] == ' ') ++start;
  return authorization.substr(start);
}

std::string host_of_host_header(const std::string& header) {
  std::string host;
  if (!header.empty() && header.front() == '[') {
    const size_t close = header.find(']');
    if (close == std::string::npos) return {};
    host = header.substr(1, close - 1);
    const std::string rest = header.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return {};
  } else {
    const size_t colon = header.find(':');
    if (colon != std::string::npos && header.find(':', colon + 1) != std::string::npos) return {};  // bare IPv6
    host = header.substr(0, colon);
  }
  host = lower(host);
  if (!host.empty() && host.back() == '.') host.pop_back();  // "localhost." is localhost
  return host;
}

HostCheck::HostCheck(const std::string& served_host, const std::vector<std::string>& extra_names)
    : names_{"localhost", "127.0.0.1", "::1"}, wildcard_(is_wildcard_host(served_host)) {
  if (!wildcard_) names_.push_back(lower(served_host));
  for (const std::string& name : extra_names) names_.push_back(lower(name));
}

bool HostCheck::allowed(const std::string& host_header, const std::string& local_addr) const {
  const std::string host = host_of_host_header(host_header);
  if (host.empty()) return false;
  if (std::find(names_.begin(), names_.end(), host) != names_.end()) return true;
  if (wildcard_) {
    // An IPv4 connection to a dual-stack socket reports ::ffff:a.b.c.d.
    std::string local = lower(local_addr);
    if (local.rfind("::ffff:", 0) == 0) local = local.substr(7);
    return host == local;
  }
  return false;
}

}  // namespace api
}  // namespace imgsearchd
