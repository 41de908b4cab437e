#include "indexer/scan/scanner.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_set>

#include "indexer/scan/stat_signature.h"

namespace imgsearchd {

CandidateRules candidate_rules_of(const ScanOptions& options) {
  CandidateRules rules;
  rules.extensions = options.extensions;
  rules.include = options.include;
  rules.exclude = options.exclude;
  rules.skip_hidden = options.skip_hidden;
  rules.skip_clutter = options.skip_clutter;
  return rules;
}

std::vector<std::string> ScanSummary::unlisted_folders() const {
  std::vector<std::string> folders;
  for (const ScanWarning& warning : warnings) {
    if (warning.kind == ScanWarning::Kind::unlisted_folder) folders.push_back(warning.path);
  }
  return folders;
}

namespace {

struct FileIdentity {
  uint64_t device;
  uint64_t inode;
  bool operator==(const FileIdentity& o) const { return device == o.device && inode == o.inode; }
};

struct FileIdentityHash {
  size_t operator()(const FileIdentity& id) const {
    return std::hash<uint64_t>()(id.inode * 0x9e3779b97f4a7c15ULL ^ id.device);
  }
};

using IdentitySet = std::unordered_set<FileIdentity, FileIdentityHash>;

// Appends "/name" to a folder path ("/" itself takes no second slash).
void append_child(std::string& path, const char* name, size_t length) {
  if (path.empty() || path.back() != '/') path.push_back('/');
  path.append(name, length);
}

std::string checked_root(const std::filesystem::path& root, size_t index) {
  if (root.empty()) throw ScanError("scan root " + std::to_string(index + 1) + " is empty: expected a folder path");
  return normalized_root(root);
}

struct FolderCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// A folder waiting to be listed.
struct PendingFolder {
  std::string path;
  size_t root_index = 0;
  size_t relative_offset = 0;  // where the path below the root starts in `path`
  bool included = false;       // it or a folder above it matched an include pattern (or there are none)
  bool through_link = false;   // reached by following a link: open it following links
};

// A symbolic link, followed once every root has been walked directly.
struct PendingLink {
  std::string path;
  size_t root_index = 0;
  size_t relative_offset = 0;
  size_t name_offset = 0;
  bool parent_included = false;
};

// One listed entry of a folder: its name lives in Walker::names_.
struct FolderEntry {
  uint32_t name_offset;
  uint32_t name_length;
  unsigned char type;  // d_type
};

class Walker {
 public:
  Walker(const ScanOptions& options, const ScanCallback& on_file)
      : options_(options), on_file_(on_file), filter_(candidate_rules_of(options)) {}

  ScanSummary run() {
    check_roots();
    for (size_t i = summary_.roots.size(); i-- > 0;) {
      PendingFolder root;
      root.path = summary_.roots[i];
      root.root_index = i;
      root.relative_offset = root.path == "/" ? 1 : root.path.size() + 1;
      root.included = filter_.includes_everything();
      root.through_link = true;  // a root may itself be a link to a folder
      folders_.push_back(std::move(root));
    }
    return walk();
  }

  // Walks only `folder` (a root or a folder below one), in the state a walk
  // of its root would reach it with; nothing if it would not be entered.
  ScanSummary run_below(const std::string& folder) {
    check_roots();
    PendingFolder start;
    if (descend_to(checked_root(folder, 0), start)) folders_.push_back(std::move(start));
    return walk();
  }

  // Whether `path` is a file a walk of its root would report, and with what.
  std::optional<ScannedFile> check_file(const std::string& path_in) {
    check_roots();
    const std::string path = checked_root(path_in, 0);
    const size_t slash = path.rfind('/');
    PendingFolder parent;
    if (slash == std::string::npos || !descend_to(slash == 0 ? "/" : path.substr(0, slash), parent)) return std::nullopt;
    const char* name = path.c_str() + slash + 1;
    const size_t name_length = path.size() - slash - 1;
    if (path.size() < parent.relative_offset || name_length == 0) return std::nullopt;  // the root itself
    const std::string_view relative = std::string_view(path).substr(parent.relative_offset);
    if (filter_.skips_name(name) || !filter_.has_candidate_extension(name, name_length) ||
        filter_.excludes(name, relative)) {
      return std::nullopt;
    }
    if (!parent.included && !filter_.includes(name, relative)) return std::nullopt;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
    if (S_ISLNK(st.st_mode) && (!options_.follow_symlinks || ::stat(path.c_str(), &st) != 0)) return std::nullopt;
    if (!S_ISREG(st.st_mode)) return std::nullopt;
    ScannedFile file;
    file.path = path;
    file.signature = stat_signature_of(st);
    file.root_index = parent.root_index;
    return file;
  }

 private:
  void check_roots() {
    for (size_t i = 0; i < options_.roots.size(); ++i) {
      summary_.roots.push_back(checked_root(options_.roots[i], i));
      if (auto problem = root_problem(summary_.roots.back())) throw ScanError(*problem, ErrorKind::not_found);
    }
  }

  // Fills `out` with the state a walk reaches `folder` in (its root, the
  // include state); false if `folder` is under no root, or a walk would not
  // enter it or a folder above it (hidden, clutter, excluded, a link when
  // links are not followed).
  bool descend_to(const std::string& folder, PendingFolder& out) {
    for (size_t i = 0; i < summary_.roots.size(); ++i) {
      const std::string& root = summary_.roots[i];
      const bool below = root == "/" ? folder.size() > 1 && folder[0] == '/'
                                     : folder.size() > root.size() && folder.compare(0, root.size(), root) == 0 &&
                                           folder[root.size()] == '/';
      if (folder != root && !below) continue;
      out.path = folder;
      out.root_index = i;
      out.relative_offset = root == "/" ? 1 : root.size() + 1;
      out.included = filter_.includes_everything();
      out.through_link = true;
      for (size_t start = out.relative_offset; below && start <= folder.size();) {
        size_t end = folder.find('/', start);
        if (end == std::string::npos) end = folder.size();
        const std::string name = folder.substr(start, end - start);
        const std::string_view relative = std::string_view(folder).substr(out.relative_offset, end - out.relative_offset);
        if (filter_.skips_name(name.c_str()) || filter_.excludes(name.c_str(), relative)) return false;
        out.included = out.included || filter_.includes(name.c_str(), relative);
        struct stat st;
        if (!options_.follow_symlinks && ::lstat(folder.substr(0, end).c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
          return false;
        }
        start = end + 1;
      }
      return true;
    }
    return false;
  }

  ScanSummary walk() {
    size_t next_link = 0;
    while (!summary_.stopped) {
      if (!folders_.empty()) {
        PendingFolder folder = std::move(folders_.back());
        folders_.pop_back();
        list_folder(folder);
      } else if (next_link < links_.size()) {
        follow_link(links_[next_link++]);
      } else {
        break;
      }
    }
    return std::move(summary_);
  }

  void warn(ScanWarning::Kind kind, const std::string& path, const std::string& what) {
    summary_.warnings.push_back(ScanWarning{kind, path, path + ": " + what});
  }

  // Reports a file once, whichever path reached it first.
  void report(const std::string& path, size_t root_index, const struct stat& st) {
    if (!seen_files_.insert(FileIdentity{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)})
             .second) {
      return;
    }
    file_.path.assign(path);
    file_.signature = stat_signature_of(st);
    file_.root_index = root_index;
    ++summary_.files;
    if (!on_file_(file_)) summary_.stopped = true;
  }

  // Opens and lists one folder, reports its files, queues its sub-folders and links.
  void list_folder(const PendingFolder& folder) {
    const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (folder.through_link ? 0 : O_NOFOLLOW);
    const int fd = ::open(folder.path.c_str(), flags);
    if (fd < 0) {
      const int error = errno;
      // Gone since it was listed, or replaced by a link: nothing to report.
      if (error == ENOENT || error == ENOTDIR || (error == ELOOP && !folder.through_link)) return;
      warn(ScanWarning::Kind::unlisted_folder, folder.path, std::string("cannot open folder: ") + std::strerror(error));
      return;
    }
    struct stat folder_stat;
    if (::fstat(fd, &folder_stat) != 0 ||
        !seen_folders_.insert(FileIdentity{static_cast<uint64_t>(folder_stat.st_dev),
                                           static_cast<uint64_t>(folder_stat.st_ino)})
             .second) {
      ::close(fd);  // already walked under another path (a link, a loop, nested roots)
      return;
    }
    // Closed on every way out, a throwing callback included.
    std::unique_ptr<DIR, FolderCloser> folder_stream(::fdopendir(fd));
    DIR* dir = folder_stream.get();
    if (dir == nullptr) {
      const int error = errno;
      ::close(fd);
      warn(ScanWarning::Kind::unlisted_folder, folder.path, std::string("cannot list folder: ") + std::strerror(error));
      return;
    }
    ++summary_.folders;
    read_entries(dir, folder.path);

    std::string& path = path_;
    path.assign(folder.path);
    const size_t base_length = path.size();
    new_folders_.clear();
    for (const FolderEntry& entry : entries_) {
      const char* name = names_.data() + entry.name_offset;
      path.resize(base_length);
      append_child(path, name, entry.name_length);
      const std::string_view relative = std::string_view(path).substr(folder.relative_offset);

      unsigned char type = entry.type;
      struct stat st;
      bool have_stat = false;
      if (type == DT_UNKNOWN || type == DT_REG) {
        if (type == DT_REG && !filter_.has_candidate_extension(name, entry.name_length)) continue;
        if (::fstatat(::dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          const int error = errno;
          if (error != ENOENT) {
            warn(ScanWarning::Kind::unreadable_entry, path, std::string("cannot stat: ") + std::strerror(error));
          }
          continue;
        }
        have_stat = true;
        type = S_ISREG(st.st_mode)   ? DT_REG
               : S_ISDIR(st.st_mode) ? DT_DIR
               : S_ISLNK(st.st_mode) ? DT_LNK
                                     : DT_FIFO;  // stands for every other kind here
      }

      if (type == DT_DIR) {
        if (filter_.excludes(name, relative)) continue;
        PendingFolder child;
        child.path = path;
        child.root_index = folder.root_index;
        child.relative_offset = folder.relative_offset;
        child.included = folder.included || filter_.includes(name, relative);
        new_folders_.push_back(std::move(child));
      } else if (type == DT_LNK) {
        if (!options_.follow_symlinks) continue;
        links_.push_back(PendingLink{path, folder.root_index, folder.relative_offset, path.size() - entry.name_length,
                                     folder.included});
      } else if (type == DT_REG) {
        if (!filter_.has_candidate_extension(name, entry.name_length) || filter_.excludes(name, relative)) continue;
        if (!folder.included && !filter_.includes(name, relative)) continue;
        if (!have_stat && ::fstatat(::dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          const int error = errno;
          if (error != ENOENT) {
            warn(ScanWarning::Kind::unreadable_entry, path, std::string("cannot stat: ") + std::strerror(error));
          }
          continue;
        }
        if (!S_ISREG(st.st_mode)) continue;  // replaced since it was listed
        report(path, folder.root_index, st);
        if (summary_.stopped) break;
      } else if (filter_.has_candidate_extension(name, entry.name_length) && !filter_.excludes(name, relative)) {
        warn(ScanWarning::Kind::not_a_regular_file, path, "not a regular file (a FIFO, socket or device), skipped");
      }
    }
    folder_stream.reset();

    // Depth first, in name order: the stack pops the first sub-folder next.
    for (auto it = new_folders_.rbegin(); it != new_folders_.rend(); ++it) folders_.push_back(std::move(*it));
  }

  // Reads every entry, dropping hidden and clutter names, then sorts by name.
  void read_entries(DIR* dir, const std::string& folder_path) {
    names_.clear();
    entries_.clear();
    for (;;) {
      errno = 0;
      const dirent* entry = ::readdir(dir);
      if (entry == nullptr) {
        if (errno != 0) {
          warn(ScanWarning::Kind::unlisted_folder, folder_path,
               std::string("listing stopped early: ") + std::strerror(errno));
        }
        break;
      }
      const char* name = entry->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      if (filter_.skips_name(name)) continue;
      const size_t length = std::strlen(name);
      entries_.push_back(FolderEntry{static_cast<uint32_t>(names_.size()), static_cast<uint32_t>(length), entry->d_type});
      names_.append(name, length + 1);  // keep the terminator: fnmatch and fstatat need it
    }
    const char* names = names_.data();
    std::sort(entries_.begin(), entries_.end(), [names](const FolderEntry& a, const FolderEntry& b) {
      return std::strcmp(names + a.name_offset, names + b.name_offset) < 0;
    });
  }

  void follow_link(const PendingLink& link) {
    const char* name = link.path.c_str() + link.name_offset;
    const std::string_view relative = std::string_view(link.path).substr(link.relative_offset);
    struct stat st;
    if (::stat(link.path.c_str(), &st) != 0) {
      const int error = errno;
      struct stat link_stat;
      if (::lstat(link.path.c_str(), &link_stat) != 0) return;  // the link itself is gone
      if (filter_.excludes(name, relative)) return;
      warn(ScanWarning::Kind::broken_symlink, link.path,
           error == ENOENT ? std::string("broken symbolic link: its target does not exist")
                           : std::string("cannot follow symbolic link: ") + std::strerror(error));
      return;
    }
    if (filter_.excludes(name, relative)) return;
    if (S_ISDIR(st.st_mode)) {
      PendingFolder folder;
      folder.path = link.path;
      folder.root_index = link.root_index;
      folder.relative_offset = link.relative_offset;
      folder.included = link.parent_included || filter_.includes(name, relative);
      folder.through_link = true;
      folders_.push_back(std::move(folder));
      return;
    }
    const size_t name_length = link.path.size() - link.name_offset;
    if (!filter_.has_candidate_extension(name, name_length)) return;
    if (!S_ISREG(st.st_mode)) {
      warn(ScanWarning::Kind::not_a_regular_file, link.path,
           "symbolic link to something that is not a regular file, skipped");
      return;
    }
    if (!link.parent_included && !filter_.includes(name, relative)) return;
    report(link.path, link.root_index, st);
  }

  const ScanOptions& options_;
  const ScanCallback& on_file_;
  PathFilter filter_;

  ScanSummary summary_;
  std::vector<PendingFolder> folders_;      // the depth-first stack
  std::vector<PendingFolder> new_folders_;  // sub-folders of the folder being listed
  std::vector<PendingLink> links_;          // followed in the order found
  IdentitySet seen_folders_;
  IdentitySet seen_files_;

  // Reused for every folder and file so the walk allocates little per file.
  std::string names_;
  std::vector<FolderEntry> entries_;
  std::string path_;
  ScannedFile file_;
};

}  // namespace

std::string normalized_root(const std::filesystem::path& root) {
  std::string text = std::filesystem::absolute(root).lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

std::optional<std::string> root_problem(const std::filesystem::path& root) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) return "scan root does not exist: " + root.string();
    return "cannot access scan root " + root.string() + ": " + std::strerror(error);
  }
  if (!S_ISDIR(st.st_mode)) return "scan root is not a folder: " + root.string();
  return std::nullopt;
}

ScanSummary scan(const ScanOptions& options, const ScanCallback& on_file) {
  return Walker(options, on_file).run();
}

ScanSummary scan_below(const ScanOptions& options, const std::string& folder, const ScanCallback& on_file) {
  return Walker(options, on_file).run_below(folder);
}

std::optional<ScannedFile> scan_file(const ScanOptions& options, const std::string& path) {
  const ScanCallback none = [](const ScannedFile&) { return true; };
  return Walker(options, none).check_file(path);
}

ScanResult scan_all(const ScanOptions& options) {
  ScanResult result;
  result.summary = scan(options, [&result](const ScannedFile& file) {
    result.files.push_back(file);
    return true;
  });
  return result;
}

}  // namespace imgsearchd
