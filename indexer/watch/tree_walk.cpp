#include "indexer/watch/tree_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace imgsearchd {

std::string relative_to(const std::string& root, const std::string& path) {
  if (path.size() <= root.size()) return "";
  return path.substr(root == "/" ? 1 : root.size() + 1);
}

bool is_at_or_below(const std::string& path, const std::string& folder) {
  if (folder == "/") return !path.empty() && path[0] == '/';
  return path.size() >= folder.size() && path.compare(0, folder.size(), folder) == 0 &&
         (path.size() == folder.size() || path[folder.size()] == '/');
}

namespace {

struct Pending {
  std::string path;
  bool included;
};

std::string child_of(const std::string& folder, const char* name) {
  return folder == "/" ? "/" + std::string(name) : folder + "/" + name;
}

}  // namespace

bool walk_tree(const std::string& root, const std::string& start, const PathFilter& filter,
               const TreeWalkCallbacks& callbacks) {
  struct stat start_stat;
  if (::stat(start.c_str(), &start_stat) != 0 || !S_ISDIR(start_stat.st_mode)) return false;
  std::vector<Pending> stack{{start, filter.folder_included(relative_to(root, start))}};
  std::vector<std::string> names;
  while (!stack.empty()) {
    Pending folder = std::move(stack.back());
    stack.pop_back();
    if (callbacks.on_folder && !callbacks.on_folder(folder.path)) continue;
    DIR* dir = ::opendir(folder.path.c_str());
    if (dir == nullptr) continue;
    names.clear();
    while (const dirent* entry = ::readdir(dir)) {
      const char* name = entry->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      if (filter.skips_name(name)) continue;
      names.emplace_back(name);
    }
    const int dir_fd = ::dirfd(dir);
    std::sort(names.begin(), names.end());
    std::vector<Pending> children;
    for (const std::string& name : names) {
      struct stat st;
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      const std::string path = child_of(folder.path, name.c_str());
      const std::string relative = relative_to(root, path);
      if (S_ISDIR(st.st_mode)) {
        if (filter.excludes(name.c_str(), relative)) continue;
        children.push_back({path, folder.included || filter.includes(name.c_str(), relative)});
        continue;
      }
      if (!callbacks.on_file) continue;
      if (!filter.has_candidate_extension(name.c_str(), name.size()) || filter.excludes(name.c_str(), relative)) {
        continue;
      }
      if (!folder.included && !filter.includes(name.c_str(), relative)) continue;
      if (S_ISLNK(st.st_mode) && (::fstatat(dir_fd, name.c_str(), &st, 0) != 0 || !S_ISREG(st.st_mode))) continue;
      if (!S_ISREG(st.st_mode)) continue;
      callbacks.on_file(path, st);
    }
    ::closedir(dir);
    for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back(std::move(*it));
  }
  return true;
}

}  // namespace imgsearchd
