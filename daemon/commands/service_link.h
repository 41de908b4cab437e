// How `search`, `similar`, `status` and `rescan` reach the running service
// of their data folder (README, "Commands"): at the address the service's
// status file names (<data_dir>/service.json), else at api.listen, with the
// token of api.token or api.token_file. A service counts only when it
// answers GET /api/status and serves this data folder.
//
// When none answers but a service holds <data_dir>/writer.lock (it is
// starting, hung, or listens elsewhere), `silent` says so: the read-only
// commands print it on stderr and answer from the catalogue themselves
// (SQLite WAL: current up to the service's last commit), `rescan` fails with
// it. A direct read while the service runs is never silent.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/client/service_client.h"
#include "daemon/config/config.h"

namespace imgsearchd {

struct ServiceLink {
  std::unique_ptr<ServiceClient> client;  // set when a service of this data folder answered
  nlohmann::json status;                  // its GET /api/status, keyed as its status file ("pid", "api")
  std::optional<std::string> silent;      // a service holds the writer lock but did not answer: the whole story
};

// Throws what load_api_token throws (a bad api.token_file), and the typed
// error of an answer that refused the request (a wrong token: Unavailable).
ServiceLink find_service(const Config& config);

// Prints `link.silent` on stderr, saying that the answer comes from the
// catalogue directly. Nothing when there is nothing to say.
void warn_if_service_silent(const ServiceLink& link);

// The short name of a model setting, as the catalogue and the direct
// commands call it (ModelSession::name): the known name, or the file's stem.
std::string model_short_name(const std::string& setting);

}  // namespace imgsearchd
