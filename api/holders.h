// Internal to imgsearchd_api: images another service holds. Services that
// share a PostgreSQL catalogue see every machine's images, but files and
// thumbnails are served only by the service that holds the path (README
// "Several machines"). For an image only others hold, the file, thumbnail
// and metadata routes answer 404 naming the holder and, when it advertised
// its address (store.postgresql.advertise_url), the holder's URL for the
// same resource; search hits of such images carry `source` and
// `holder_url`.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/catalog/catalog.h"

namespace imgsearchd::api {

// The paths of other services among `paths` (as paths_of gives them), in
// their order.
std::vector<SourcePath> foreign_paths(const std::vector<std::string>& paths);

// The other service to send a caller to for an image held only elsewhere:
// the first of `holders` with a known address, else the first. `holders` is
// not empty.
struct Holder {
  SourcePath path;
  std::optional<std::string> address;  // its advertised API address, no trailing '/'
};
Holder pick_holder(const std::vector<SourcePath>& holders, const std::map<std::string, std::string>& addresses);

// "<address>/api/images/<id><resource>": the holder's URL for the resource
// ("" for the metadata, "/file", "/thumbnail?size=320").
std::string holder_url(const std::string& address, VectorId id, const std::string& resource);

// The advertised addresses of `sources` (those that gave one), read from
// the catalogue.
std::map<std::string, std::string> advertised_addresses(const Catalog& catalog, const std::set<std::string>& sources);

// Throws the 404 for a request of `resource` of image `id`, which only
// `holders` (not empty) hold: the message names the holding service(s) and
// the URL when known, and the error object carries
// "holder": {"source", "path", "url" (null when not advertised)}. `self` is
// this service's source.
[[noreturn]] void throw_held_elsewhere(const Catalog& catalog, VectorId id, const std::vector<SourcePath>& holders,
                                       const std::string& resource, const std::string& self);

}  // namespace imgsearchd::api
