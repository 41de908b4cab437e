// GET /api/duplicates?min_score=0.95: groups of near-duplicate images and
// exact copies across the whole index (indexer/search/duplicates.h).
#include "api/handlers.h"
#include "api/json.h"
#include "api/params.h"
#include "indexer/search/duplicates.h"

namespace imgsearchd::api {

void duplicate_images(Call& call) {
  check_query_parameters(call.request, {"min_score"});
  const float min_score = number_parameter(call.request, "min_score", 0.95f);
  const std::shared_ptr<QueryEngine> engine = call.state.engine();
  const CatalogReaders::Lease reader = call.state.readers.borrow();
  const std::vector<DuplicateGroup> groups = find_duplicates(engine->index(), *reader.operator->(), min_score);
  nlohmann::json listed = nlohmann::json::array();
  for (const DuplicateGroup& group : groups) {
    nlohmann::json members = nlohmann::json::array();
    for (const DuplicateMember& member : group.members) {
      members.push_back({{"id", id_text(member.id)}, {"similarity", member.similarity}, {"paths", member.paths}});
    }
    listed.push_back({{"images", group.members.size()}, {"paths", group.path_count()}, {"members", members}});
  }
  respond_json(call.response, {{"min_score", min_score}, {"group_count", groups.size()}, {"groups", listed}});
}

}  // namespace imgsearchd::api
