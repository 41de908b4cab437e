// The service's state as one JSON document: what GET /api/status answers and
// <data_dir>/service.json holds (`imgsearchd status` reads either), and what
// the web page's status bar reads. One function, so that every reader sees
// the same fields (README, "HTTP API" lists them).
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "indexer/live/live_indexer.h"
#include "store/catalog/catalog.h"

namespace imgsearchd {

// At most this many failed files are listed (files_failed counts them all).
constexpr size_t kStatusFailuresListed = 20;

// `device`: where the model runs. `failures`: the files that could not be
// indexed, with their reasons (the first kStatusFailuresListed are listed
// under "failures"; none when null: the status file leaves them to the
// catalogue).
nlohmann::json service_status_json(const LiveStatus& status, const std::string& device,
                                   const std::vector<FailedFile>* failures = nullptr);

}  // namespace imgsearchd
