#include "api/json.h"

#include <ctime>

#include "api/holders.h"

namespace imgsearchd::api {

std::string id_text(VectorId id) { return std::to_string(id); }

nlohmann::json search_page_json(const SearchPage& page, const SearchOptions& options, double took_ms,
                                ImageInfoCache& info, const std::map<std::string, std::string>& holder_addresses) {
  nlohmann::json results = nlohmann::json::array();
  for (const Hit& hit : page.hits) {
    const std::optional<ImageInfo> image = info.get(hit.id, hit.paths);
    nlohmann::json result = {{"id", id_text(hit.id)},
                             {"score", hit.score},
                             {"cosine", hit.cosine},
                             {"path", hit.paths.empty() ? nlohmann::json(nullptr) : nlohmann::json(hit.paths.front())},
                             {"paths", hit.paths}};
    result["width"] = image ? nlohmann::json(image->width) : nlohmann::json(nullptr);
    result["height"] = image ? nlohmann::json(image->height) : nlohmann::json(nullptr);
    result["bytes"] = image ? nlohmann::json(image->bytes) : nlohmann::json(nullptr);
    // Held only by other services: say which, and where to get the file.
    const std::vector<SourcePath> foreign = foreign_paths(hit.paths);
    if (!foreign.empty() && foreign.size() == hit.paths.size()) {
      const Holder holder = pick_holder(foreign, holder_addresses);
      result["source"] = holder.path.source;
      if (holder.address) result["holder_url"] = holder_url(*holder.address, hit.id, "/file");
    }
    nlohmann::json duplicates = nlohmann::json::array();
    for (const CollapsedHit& duplicate : hit.duplicates) {
      duplicates.push_back({{"id", id_text(duplicate.id)}, {"similarity", duplicate.similarity},
                            {"cosine", duplicate.cosine}, {"paths", duplicate.paths}});
    }
    result["duplicates"] = std::move(duplicates);
    results.push_back(std::move(result));
  }
  nlohmann::json out = {{"results", std::move(results)}, {"offset", options.offset}, {"took_ms", took_ms}};
  out["next_offset"] = page.next_offset ? nlohmann::json(*page.next_offset) : nlohmann::json(nullptr);
  if (page.excluded) out["excluded"] = id_text(*page.excluded);
  nlohmann::json excluded_ids = nlohmann::json::array();
  for (VectorId id : page.excluded_ids) excluded_ids.push_back(id_text(id));
  out["excluded_ids"] = std::move(excluded_ids);
  // The catalogue is unreachable: the paths are the last known ones.
  if (!page.catalogue_problem.empty()) out["catalogue_problem"] = page.catalogue_problem;
  return out;
}

std::string iso8601_utc(int64_t nanoseconds) {
  const std::time_t seconds = static_cast<std::time_t>(nanoseconds / 1'000'000'000);
  const int millis = static_cast<int>((nanoseconds % 1'000'000'000) / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  return text;
}

nlohmann::json image_json(VectorId id, const std::vector<FileRecord>& files, const std::optional<ImageInfo>& info) {
  nlohmann::json paths = nlohmann::json::array();
  nlohmann::json listed = nlohmann::json::array();
  for (const FileRecord& file : files) {
    paths.push_back(file.path);
    listed.push_back({{"path", file.path}, {"bytes", file.signature.size}, {"mtime", iso8601_utc(file.signature.mtime_ns)}});
  }
  nlohmann::json out = {{"id", id_text(id)}, {"paths", paths}, {"files", listed}};
  out["path"] = files.empty() ? nlohmann::json(nullptr) : nlohmann::json(files.front().path);
  out["mtime"] = files.empty() ? nlohmann::json(nullptr) : nlohmann::json(iso8601_utc(files.front().signature.mtime_ns));
  out["bytes"] = info ? nlohmann::json(info->bytes)
                      : files.empty() ? nlohmann::json(nullptr) : nlohmann::json(files.front().signature.size);
  out["width"] = info ? nlohmann::json(info->width) : nlohmann::json(nullptr);
  out["height"] = info ? nlohmann::json(info->height) : nlohmann::json(nullptr);
  out["format"] = info ? nlohmann::json(info->format.name) : nlohmann::json(nullptr);
  return out;
}

}  // namespace imgsearchd::api
