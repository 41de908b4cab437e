// Internal: where a watcher's warnings and notes go when the options name no
// sink (spdlog, like the rest of the service).
#pragma once

#include <functional>
#include <string>

#include "indexer/watch/watcher.h"

namespace imgsearchd {

std::function<void(WatchLogLevel, const std::string&)> log_or_spdlog(
    std::function<void(WatchLogLevel, const std::string&)> log);

}  // namespace imgsearchd
