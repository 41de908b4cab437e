#include "indexer/search/duplicates.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "store/core/errors.h"

namespace imgsearchd {

size_t DuplicateGroup::path_count() const {
  size_t count = 0;
  for (const DuplicateMember& member : members) count += member.paths.size();
  return count;
}

std::vector<std::vector<SearchHit>> group_near_duplicates(const VectorStore& index, float min_score, size_t batch,
                                                          const std::function<void(size_t)>& progress) {
  IMGSEARCHD_CHECK(batch > 0, "a batch of no images");
  const std::vector<VectorId> ids = index.ids();
  const auto dim = static_cast<size_t>(index.dim());
  std::unordered_set<VectorId> grouped;
  std::vector<std::vector<SearchHit>> groups;
  size_t next = 0;
  while (next < ids.size()) {
    // The next batch of images not yet in a group: only they can start one.
    std::vector<VectorId> seeds;
    std::vector<float> vectors;
    for (; next < ids.size() && seeds.size() < batch; ++next) {
      if (grouped.count(ids[next])) continue;
      std::optional<std::vector<float>> vector = index.reconstruct(ids[next]);
      if (!vector) continue;  // removed meanwhile
      seeds.push_back(ids[next]);
      vectors.insert(vectors.end(), vector->begin(), vector->end());
    }
    IMGSEARCHD_CHECK(vectors.size() == seeds.size() * dim, "reconstructed vectors of the wrong dimension");
    const std::vector<std::vector<SearchHit>> neighbours = index.range_search(vectors, min_score);
    for (size_t i = 0; i < seeds.size(); ++i) {
      // An earlier seed of this batch may have taken it.
      if (!grouped.insert(seeds[i]).second) continue;
      std::vector<SearchHit> group = {{seeds[i], 1.0f}};
      for (const SearchHit& hit : neighbours[i]) {
        if (grouped.insert(hit.id).second) group.push_back(hit);
      }
      if (group.size() > 1) groups.push_back(std::move(group));
    }
    if (progress) progress(next);
  }
  return groups;
}

std::vector<DuplicateGroup> find_duplicates(const VectorStore& index, const Catalog& catalog, float min_score,
                                            const std::function<void(size_t)>& progress) {
  if (!(min_score > 0 && min_score <= 1)) {
    throw InvalidInput("min_score must be a similarity above 0 and at most 1, got " + std::to_string(min_score));
  }
  std::vector<DuplicateGroup> groups;
  std::unordered_set<VectorId> in_groups;
  for (const std::vector<SearchHit>& near : group_near_duplicates(index, min_score, 256, progress)) {
    DuplicateGroup group;
    for (const SearchHit& hit : near) {
      group.members.push_back({hit.id, hit.score, catalog.paths_of(hit.id)});
      in_groups.insert(hit.id);
    }
    std::stable_sort(group.members.begin() + 1, group.members.end(),
                     [](const DuplicateMember& a, const DuplicateMember& b) { return a.similarity > b.similarity; });
    groups.push_back(std::move(group));
  }
  // Exact copies: one content, several paths.
  for (VectorId id : index.ids()) {
    if (in_groups.count(id)) continue;
    std::vector<std::string> paths = catalog.paths_of(id);
    if (paths.size() > 1) groups.push_back(DuplicateGroup{{DuplicateMember{id, 1.0f, std::move(paths)}}});
  }
  std::stable_sort(groups.begin(), groups.end(), [](const DuplicateGroup& a, const DuplicateGroup& b) {
    if (a.members.size() != b.members.size()) return a.members.size() > b.members.size();
    if (a.path_count() != b.path_count()) return a.path_count() > b.path_count();
    return a.members.front().id < b.members.front().id;
  });
  return groups;
}

}  // namespace imgsearchd
