// The service routes: status, rescan, health, metrics.
#include "api/handlers.h"
#include "api/params.h"
#include "indexer/search/query_engine.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

void service_status(Call& call) {
  check_query_parameters(call.request, {});
  if (!call.state.context.status) throw Unavailable("status is not available from this service");
  respond_json(call.response, call.state.context.status());
}

void rescan(Call& call) {
  check_query_parameters(call.request, {});
  const nlohmann::json body = parse_json_object(call.request.body);
  check_json_keys(body, {"root"});
  std::optional<std::string> root;
  if (body.contains("root")) {
    if (!body["root"].is_string()) throw InvalidInput("root must be a string (a root folder), got " + body["root"].dump());
    root = body["root"].get<std::string>();
  }
  if (!call.state.context.rescan) throw Unavailable("rescans are not available from this service");
  respond_json(call.response, call.state.context.rescan(root), 202);
}

// 200 while searches can be answered. With the catalogue unreachable they
// still are (from the index, with the last known paths): "degraded", and
// what the catalogue said.
void health(Call& call) {
  const std::shared_ptr<QueryEngine> engine = call.state.engine();  // Unavailable with the reason while the model loads or is missing
  const std::string problem = engine->catalogue_problem();
  if (problem.empty()) {
    respond_json(call.response, {{"status", "ok"}});
  } else {
    respond_json(call.response, {{"status", "degraded"}, {"catalogue_problem", problem}});
  }
}

void metrics(Call& call) {
  if (call.state.context.readiness) {
    const ApiReadiness ready = call.state.context.readiness();
    call.state.metrics->set_gauge("imgsearchd_ready", "1 when searches can be answered.", ready.engine ? 1 : 0);
    if (ready.engine) {
      const TextEmbeddingCache::Stats cache = ready.engine->text_cache_stats();
      call.state.metrics->set_text_cache(cache.hits, cache.misses);
    }
  }
  if (call.state.context.service_metrics) call.state.metrics->set_service(call.state.context.service_metrics());
  call.response.set_content(call.state.metrics->exposition(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace imgsearchd::api
