#include "daemon/commands/service_link.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "api/server.h"
#include "daemon/service/service_status_file.h"
#include "indexer/weights/model_registry.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

// Where to reach a service listening on api.listen: a wildcard address is
// reached on loopback. Empty when the port is chosen at start (0).
std::string url_for_listen(const std::string& listen) {
  const ListenAddress address = parse_listen_address(listen);
  if (address.port == 0) return "";
  std::string host = address.host;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  const bool ipv6 = host.find(':') != std::string::npos;
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(address.port);
}

bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ignored;
  return fs::weakly_canonical(a, ignored) == fs::weakly_canonical(b, ignored);
}

}  // namespace

ServiceLink find_service(const Config& config) {
  ServiceLink link;
  const std::optional<nlohmann::json> status_file = read_service_status(config.data_dir);
  std::string url = status_file ? status_file->value("api", std::string()) : std::string();
  if (url.empty()) url = url_for_listen(config.api.listen);

  std::string why_not;
  if (url.empty()) {
    why_not = "its address is unknown (api.listen " + config.api.listen + " lets it choose a port, and " +
              service_status_path(config.data_dir).string() + " names none yet)";
  } else {
    auto client = std::make_unique<ServiceClient>(url, load_api_token(config.api.token, config.api.token_file));
    try {
      nlohmann::json status = client->status();
      const std::string served = status.value("data_dir", std::string());
      if (same_folder(served, config.data_dir)) {
        // As the status file has them, so that both read the same.
        if (status_file) status["pid"] = status_file->value("pid", 0LL);
        status["api"] = url;
        status.erase("data_dir");
        link.client = std::move(client);
        link.status = std::move(status);
        return link;
      }
      spdlog::debug("the imgsearchd service at {} serves the data folder {}, not {}", url, served,
                    config.data_dir.string());
      why_not = "the service at " + url + " serves another data folder (" + served + ")";
    } catch (const ServiceUnreachable& e) {
      spdlog::debug("{}", e.what());
      why_not = "it does not answer (" + std::string(e.what()) + ")";
    } catch (const ServiceRefused& e) {
      // Ours (it holds this data folder's lock): a wrong token is the
      // answer. Else some other data folder's service listens there.
      const std::optional<WriterLockHolder> holder = writer_lock_holder(config.data_dir);
      if (holder && holder->serve) throw;
      spdlog::debug("{}", e.what());
      why_not = e.what();
    }
  }

  const std::optional<WriterLockHolder> holder = writer_lock_holder(config.data_dir);
  if (holder && holder->serve) {
    const std::string process = holder->pid > 0 ? " (process " + std::to_string(holder->pid) + ")" : "";
    link.silent = "the imgsearchd service" + process + " holds " + (config.data_dir / "writer.lock").string() +
                  " but " + why_not;
  }
  return link;
}

void warn_if_service_silent(const ServiceLink& link) {
  if (!link.silent) return;
  std::fprintf(stderr,
               "imgsearchd: %s; answering from the catalogue directly (current up to the service's last commit)\n",
               link.silent->c_str());
}

std::string model_short_name(const std::string& setting) {
  if (const KnownModel* known = find_known_model(setting)) return known->name;
  return fs::path(setting).stem().string();
}

}  // namespace imgsearchd
