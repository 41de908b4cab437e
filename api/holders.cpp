#include "api/holders.h"

#include "api/errors.h"
#include "api/json.h"

namespace imgsearchd::api {

std::vector<SourcePath> foreign_paths(const std::vector<std::string>& paths) {
  std::vector<SourcePath> foreign;
  for (const std::string& path : paths) {
    if (std::optional<SourcePath> parts = parse_foreign_path(path)) foreign.push_back(std::move(*parts));
  }
  return foreign;
}

Holder pick_holder(const std::vector<SourcePath>& holders, const std::map<std::string, std::string>& addresses) {
  for (const SourcePath& holder : holders) {
    if (auto found = addresses.find(holder.source); found != addresses.end()) return Holder{holder, found->second};
  }
  return Holder{holders.front(), std::nullopt};
}

std::string holder_url(const std::string& address, VectorId id, const std::string& resource) {
  return address + "/api/images/" + id_text(id) + resource;
}

std::map<std::string, std::string> advertised_addresses(const Catalog& catalog, const std::set<std::string>& sources) {
  std::map<std::string, std::string> addresses;
  for (const std::string& source : sources) {
    if (std::optional<std::string> address = catalog.source_address(source)) addresses.emplace(source, *address);
  }
  return addresses;
}

void throw_held_elsewhere(const Catalog& catalog, VectorId id, const std::vector<SourcePath>& holders,
                          const std::string& resource, const std::string& self) {
  std::set<std::string> sources;
  std::vector<std::string> named;  // in the holders' order
  for (const SourcePath& holder : holders) {
    if (sources.insert(holder.source).second) named.push_back("'" + holder.source + "'");
  }
  const Holder holder = pick_holder(holders, advertised_addresses(catalog, sources));
  std::string services = named.front();
  for (size_t i = 1; i < named.size(); ++i) services += (i + 1 == named.size() ? " and " : ", ") + named[i];
  std::string message = "the image " + id_text(id) + " is not on this service" +
                        (self.empty() ? std::string() : " ('" + self + "')") + ": it is held by service" +
                        (named.size() > 1 ? "s " : " ") + services +
                        (named.size() > 1 ? " (" + holder.path.path + " on '" + holder.path.source + "', among others)"
                                          : " (its file " + holder.path.path + ")");
  nlohmann::json url = nullptr;
  if (holder.address) {
    url = holder_url(*holder.address, id, resource);
    message += "; ask it: " + url.get<std::string>();
  } else {
    message += ", which advertises no address (store.postgresql.advertise_url in its configuration)";
  }
  throw HttpError(404, error_kind_name(ErrorKind::not_found), message,
                  {{"holder", {{"source", holder.path.source}, {"path", holder.path.path}, {"url", url}}}});
}

}  // namespace imgsearchd::api
