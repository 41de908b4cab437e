// Internal: a walk of the folders below a root as the scanner would enter
// them (PathFilter rules), without following links to folders. Used to count
// and add inotify watches and by the polling watcher.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "indexer/scan/path_filter.h"

namespace imgsearchd {

struct TreeWalkCallbacks {
  // Each folder entered, `start` first; return false to leave its
  // sub-folders (and files) alone.
  std::function<bool(const std::string& folder)> on_folder;
  // Each candidate file (a link to a file: its target's stat); may be empty.
  std::function<void(const std::string& file, const struct stat& st)> on_file;
};

// Walks `start` (the root or a folder below it; `root` gives the relative
// paths the patterns see). Unreadable folders are passed over. Returns false
// when `start` is missing or not a folder.
bool walk_tree(const std::string& root, const std::string& start, const PathFilter& filter,
               const TreeWalkCallbacks& callbacks);

// `path` relative to `root` ("" for the root itself); `path` must be at or below it.
std::string relative_to(const std::string& root, const std::string& path);

// `path` is `folder` or below it.
bool is_at_or_below(const std::string& path, const std::string& folder);

}  // namespace imgsearchd
