#include "daemon/service/service_status_file.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>

namespace imgsearchd {

namespace fs = std::filesystem;

fs::path service_status_path(const fs::path& data_dir) { return data_dir / "service.json"; }

void write_service_status(const fs::path& data_dir, nlohmann::json status) {
  status["pid"] = static_cast<long long>(::getpid());
  const fs::path file = service_status_path(data_dir);
  const fs::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << status.dump() << "\n";
    if (!out) {
      spdlog::debug("cannot write {}", temporary.string());
      return;
    }
  }
  std::error_code error;
  fs::rename(temporary, file, error);
  if (error) spdlog::debug("cannot write {}: {}", file.string(), error.message());
}

void remove_service_status(const fs::path& data_dir) {
  std::error_code ignored;
  fs::remove(service_status_path(data_dir), ignored);
}

std::optional<nlohmann::json> read_service_status(const fs::path& data_dir) {
  std::ifstream in(service_status_path(data_dir));
  if (!in) return std::nullopt;
  nlohmann::json status = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!status.is_object() || !status.contains("pid") || !status["pid"].is_number_integer()) return std::nullopt;
  const pid_t pid = static_cast<pid_t>(status["pid"].get<long long>());
  // Signal 0 checks the process exists; EPERM means it does, as another user.
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return std::nullopt;
  return status;
}

}  // namespace imgsearchd
