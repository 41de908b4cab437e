// Internal to imgsearchd_api: who may talk to the API. The listen policy
// (loopback, or a token), the bearer token check, the Host check against DNS
// rebinding and the Origin check for browsers.
#pragma once

#include <string>
#include <vector>

namespace imgsearchd::api {

// 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);
// 0.0.0.0 and :: (every address of the machine).
bool is_wildcard_host(const std::string& host);

// Compares in time that depends only on the lengths, never on where the
// first difference is.
bool tokens_equal(const std::string& given, const std::string& expected);

// The token of "Bearer TOKEN" (scheme case-insensitive), or empty.
std::string bearer_token(const std::string& authorization);

// The host part of a Host header ("[::1]:7878" -> "::1", "Example.org" ->
// "example.org"), lower-cased; empty if malformed.
std::string host_of_host_header(const std::string& header);

// The names a Host header may carry: localhost, the loopback addresses, the
// served host and any extra names configured.
class HostCheck {
 public:
  HostCheck(const std::string& served_host, const std::vector<std::string>& extra_names);
  // `local_addr`: the address the connection arrived on (accepted too when
  // the server listens on every address).
  bool allowed(const std::string& host_header, const std::string& local_addr) const;

 private:
  std::vector<std::string> names_;
  bool wildcard_ = false;
};

}  // namespace imgsearchd::api
