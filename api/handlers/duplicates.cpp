// The near-duplicate search of the whole index, as a background job
// (api/duplicates_job.h): POST /api/duplicates {"min_score": 0.95} starts it
// (202), GET /api/duplicates follows it to its result.
#include "api/handlers.h"
#include "api/params.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

void start_duplicates(Call& call) {
  check_query_parameters(call.request, {});
  const nlohmann::json body = parse_json_object(call.request.body);
  check_json_keys(body, {"min_score"});
  float min_score = 0.95f;
  if (body.contains("min_score")) {
    if (!body["min_score"].is_number()) throw InvalidInput("min_score must be a number, got " + body["min_score"].dump());
    min_score = body["min_score"].get<float>();
  }
  const std::shared_ptr<QueryEngine> engine = call.state.engine();
  const DuplicatesJob::Started started = call.state.duplicates.start(engine, call.state.context.catalog_file, min_score);
  call.response.set_header("Location", "/api/duplicates");
  respond_json(call.response, started.job, 202);
}

void duplicates_progress(Call& call) {
  if (call.request.has_param("min_score")) {
    throw InvalidInput("min_score goes with POST /api/duplicates, which starts a search; GET /api/duplicates follows it");
  }
  check_query_parameters(call.request, {});
  const std::optional<nlohmann::json> job = call.state.duplicates.current();
  if (!job) throw NotFound("no duplicates search has been started: POST /api/duplicates starts one");
  respond_json(call.response, *job);
}

}  // namespace imgsearchd::api
