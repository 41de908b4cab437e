// Near-duplicate images across the whole index (burst shots, re-saved and
// resized copies) and exact copies (one content, several paths).
//
//   std::vector<DuplicateGroup> groups = find_duplicates(index, catalog, 0.95f);
//
// It scales with a range search per image, batched (one matrix product per
// batch of images against the index), never a comparison loop over every
// pair in this code. Images are taken in id order; the first one not yet
// in a group starts a group with every image not yet grouped whose
// similarity to it is at least `min_score`, so every member is that close
// to its group's first member (no chains of "similar to something similar").
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "store/catalog/catalog.h"
#include "store/core/content_id.h"
#include "store/core/vector_store.h"

namespace imgsearchd {

struct DuplicateMember {
  VectorId id = 0;
  float similarity = 1;            // cosine similarity to the group's first member (1 for itself)
  std::vector<std::string> paths;  // every indexed copy, sorted
};

struct DuplicateGroup {
  std::vector<DuplicateMember> members;  // the first member, then by similarity, highest first
  size_t path_count() const;
};

// Groups by vector alone (no paths): each group lists (id, similarity to the
// first), first member first; groups of one are left out. `batch`: images
// per range search. `progress` (optional) is told how many images are done.
std::vector<std::vector<SearchHit>> group_near_duplicates(const VectorStore& index, float min_score,
                                                          size_t batch = 256,
                                                          const std::function<void(size_t)>& progress = {});

// The near-duplicate groups with their paths, and every other content with
// several paths as a group of one member (exact copies). Largest groups
// first (members, then paths), then by first id. Throws InvalidInput when
// min_score is not in (0, 1]. `progress` (optional) is told how many images
// are done after each batch; an exception it throws ends the search.
std::vector<DuplicateGroup> find_duplicates(const VectorStore& index, const Catalog& catalog, float min_score,
                                            const std::function<void(size_t)>& progress = {});

}  // namespace imgsearchd
