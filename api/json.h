// Internal to imgsearchd_api: hits, pages and images as the API's JSON. Ids
// are JSON strings: they are 63-bit integers, beyond the 2^53 that
// JavaScript's JSON.parse and jq hold exactly.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/image_files.h"
#include "indexer/search/query_engine.h"
#include "store/catalog/catalog.h"

namespace imgsearchd::api {

std::string id_text(VectorId id);

// {"results": [{"id", "score", "path", "paths", "width", "height", "bytes"}],
//  "offset", "next_offset" (null on the last page), "took_ms"}. A hit none
// of whose paths is this service's also has "source" (the service holding
// it) and, when `holder_addresses` knows that service's address,
// "holder_url" (its URL of the file).
nlohmann::json search_page_json(const SearchPage& page, const SearchOptions& options, double took_ms,
                                ImageInfoCache& info, const std::map<std::string, std::string>& holder_addresses = {});

// {"id", "path", "paths", "bytes", "width", "height", "format", "mtime",
//  "files": [{"path", "bytes", "mtime"}]}; mtime is ISO 8601 UTC.
nlohmann::json image_json(VectorId id, const std::vector<FileRecord>& files, const std::optional<ImageInfo>& info);

// Nanoseconds since the epoch as "2026-12-01T14:38:43.123Z".
std::string iso8601_utc(int64_t nanoseconds);

}  // namespace imgsearchd::api
