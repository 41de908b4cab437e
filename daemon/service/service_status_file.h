// The running service's state for other processes (`imgsearchd status`,
// tests): <data_dir>/service.json, rewritten atomically (temporary file,
// rename) whenever the state changes, removed when the service exits
// cleanly. It carries the service's process id, so a file left by a killed
// service is recognised and ignored.
#pragma once

#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

namespace imgsearchd {

std::filesystem::path service_status_path(const std::filesystem::path& data_dir);

// Writes `status` with "pid" set to this process. Failing to write is
// logged, never fatal: the service's work matters more than its report.
void write_service_status(const std::filesystem::path& data_dir, nlohmann::json status);
void remove_service_status(const std::filesystem::path& data_dir);

// The status of the service running on `data_dir`, or nothing when none
// runs (no file, or its process is gone).
std::optional<nlohmann::json> read_service_status(const std::filesystem::path& data_dir);

}  // namespace imgsearchd
