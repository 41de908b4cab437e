#include "daemon/service/service_status_json.h"

namespace imgsearchd {

nlohmann::json service_status_json(const LiveStatus& status, const std::string& device,
                                   const std::vector<FailedFile>* failures) {
  const LiveCounters& c = status.counters;
  nlohmann::json roots = nlohmann::json::array();
  for (const LiveRootStatus& root : status.roots) {
    roots.push_back({{"path", root.path},
                     {"watcher", root.watcher},
                     {"watches", root.watches},
                     {"polled_folders", root.polled_folders},
                     {"problem", root.problem}});
  }
  // The run in flight: files done of those found, and at what rate.
  nlohmann::json run = nullptr;
  if (status.run.active) {
    const LiveRunProgress& r = status.run;
    const double rate = r.seconds > 0 ? static_cast<double>(r.done) / r.seconds : 0;
    const uint64_t left = r.total > r.done ? r.total - r.done : 0;
    run = {{"done", r.done},
           {"total", r.total},
           {"seconds", r.seconds},
           {"rate", rate},
           {"eta_seconds", rate > 0 && r.total > 0 ? nlohmann::json(static_cast<double>(left) / rate) : nullptr}};
  }
  nlohmann::json json = {{"state", status.state},
          {"startup_reconcile_done", status.startup_reconcile_done},
          {"model", status.model},
          {"device", device},
          {"model_loaded", status.model_loaded},
          {"model_problem", status.model_problem},
          {"pending_paths", status.pending_paths},
          {"generation", status.generation},
          {"files_ok", status.files_ok},
          {"files_failed", status.files_failed},
          {"searchable", status.searchable},
          {"vectors", status.vectors},
          {"run", run},
          {"counters",
           {{"hashed", c.hashed},
            {"attached", c.attached},
            {"reattached", c.reattached},
            {"catalogued", c.catalogued},
            {"embedded", c.embedded},
            {"model_calls", c.model_calls},
            {"failed", c.failed},
            {"removed", c.removed},
            {"deferred", c.deferred},
            {"change_batches", c.change_batches},
            {"changed_paths", c.changed_paths},
            {"reconciles", c.reconciles},
            {"root_rescans", c.root_rescans},
            {"watcher_events", c.watcher_events},
            {"watcher_overflows", c.watcher_overflows}}},
          {"roots", roots},
          {"warnings", status.warnings},
          {"error", status.error},
          {"catalogue_problem", status.catalogue_problem}};
  if (failures) {
    nlohmann::json listed = nlohmann::json::array();
    for (size_t i = 0; i < failures->size() && i < kStatusFailuresListed; ++i) {
      listed.push_back({{"path", (*failures)[i].path}, {"reason", (*failures)[i].reason}});
    }
    json["failures"] = std::move(listed);
  }
  return json;
}

}  // namespace imgsearchd
