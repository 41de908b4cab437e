// The folder scanner: walks one or more roots and reports every candidate
// image file with its stat signature, reading no file's contents. A re-scan
// compares these signatures with the catalogue; only files whose signature
// changed are hashed.
//
// Which files are candidates:
//  - regular files whose extension is in `extensions` (case-insensitive);
//  - not hidden (a name starting with '.') when `skip_hidden`, not system
//    clutter (see clutter_names()) when `skip_clutter`; a hidden or clutter
//    folder is not entered;
//  - matching the include and exclude patterns (see below).
//
// Patterns are globs on the path relative to its root, '/'-separated, no
// leading "./" (e.g. "2019/summer/beach.jpg"):
//  - `*`, `?` and `[...]` match within one path component; they never cross
//    '/'. A component `**` matches any number of components, none included:
//    "**/raw/**", "2019/**/*.png".
//  - A pattern without '/' matches an entry's name at any depth, like
//    .gitignore: "*.tmp.jpg", "Private". A pattern with a '/' is anchored at
//    the root: "2019/*.jpg" matches only directly below the root's 2019 folder.
//    A leading '/' anchors too: "/2019" is only the root's own 2019 folder.
//    A trailing '/' is ignored.
//  - A folder that matches an exclude pattern is not entered; a file that
//    matches one is skipped.
//  - With include patterns, a file is a candidate only if it, or a folder
//    above it, matches one of them ("Family" includes everything below any
//    folder named Family). No include patterns means everything.
//  - Case-sensitive, as the file system is.
//
// Symbolic links (when `follow_symlinks`) are followed to files and folders,
// also outside the roots; a link to a file is a candidate by its own name's
// extension and is reported with its target's signature. Each folder is
// entered once (tracked by device and inode), so link loops end; each file is
// reported once, however many links or hard links reach it. Paths that reach a file without a symlink are preferred:
// links are followed only after every root has been walked directly. Within a
// folder, names are visited in byte order, so the choice among several paths
// is the same on every scan of an unchanged tree.
//
// Problems with single entries (an unreadable folder, a broken link, a FIFO
// named like an image) are warnings; the scan goes on. A caller that
// reconciles the catalogue with a scan must not take files below a folder in
// `unlisted_folders()` as deleted: their state is unknown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "indexer/scan/path_filter.h"
#include "store/core/content_id.h"
#include "store/core/errors.h"

namespace imgsearchd {

struct ScanOptions {
  std::vector<std::filesystem::path> roots;  // made absolute; need not be canonical
  // Without the dot, any case ("JPG" and ".jpg" both work). Empty means every file.
  std::vector<std::string> extensions = default_image_extensions();
  std::vector<std::string> include;  // empty = everything
  std::vector<std::string> exclude;
  bool skip_hidden = true;
  bool skip_clutter = true;
  bool follow_symlinks = true;
};

// The candidate rules of `options` (everything but the roots and links).
CandidateRules candidate_rules_of(const ScanOptions& options);

struct ScannedFile {
  // Absolute, as reached: below the root, through links, not resolved.
  std::string path;
  // The file's own (a link's target's) device, inode, size and mtime.
  StatSignature signature;
  // Which of ScanOptions::roots (and ScanSummary::roots) it was found under.
  size_t root_index = 0;
};

struct ScanWarning {
  enum class Kind {
    unlisted_folder,     // could not be opened or read: its files are unknown
    unreadable_entry,    // stat failed
    broken_symlink,      // dangling, or a loop of links
    not_a_regular_file,  // a FIFO, socket or device with an image extension
  };
  Kind kind;
  std::string path;
  std::string message;  // names the path and says what went wrong
};

struct ScanSummary {
  std::vector<std::string> roots;  // absolute, in the order given
  std::vector<ScanWarning> warnings;
  uint64_t files = 0;      // reported
  uint64_t folders = 0;    // listed
  bool stopped = false;    // the callback asked to stop

  // Paths of folders whose content is unknown (from warnings).
  std::vector<std::string> unlisted_folders() const;
};

// Called for every candidate, in scan order. The ScannedFile (and its path)
// is reused: valid only during the call; copy what you keep. Return false to
// stop the scan.
using ScanCallback = std::function<bool(const ScannedFile&)>;

// Streaming scan. Throws ScanError before reading anything if a root or an
// option is unusable.
ScanSummary scan(const ScanOptions& options, const ScanCallback& on_file);

// The same rules for part of a tree, for callers that know what changed (a
// watcher). `folder` is a root of `options` or a folder below one; it is
// walked as its root's walk would walk it (patterns relative to the root,
// include state from the folders above), and reports nothing if that walk
// would not enter it (hidden, clutter, excluded). Throws ScanError like scan().
ScanSummary scan_below(const ScanOptions& options, const std::string& folder, const ScanCallback& on_file);
// Whether the file at `path` is a candidate a scan of its root would report,
// with its signature; nothing if it is not (gone, not under a root, not a
// candidate). Each call stands alone: hard links are not deduplicated.
std::optional<ScannedFile> scan_file(const ScanOptions& options, const std::string& path);

// The convenience: every candidate collected.
struct ScanResult {
  ScanSummary summary;
  std::vector<ScannedFile> files;
};
ScanResult scan_all(const ScanOptions& options);

// The form the scanner gives a root, and so the prefix of every path it
// reports under it (and of the catalogue's paths): absolute, lexically
// normal, without a trailing slash ("/" stays "/").
std::string normalized_root(const std::filesystem::path& root);

// Why `root` cannot be scanned (missing, not a folder, no permission), or
// nothing. Lets a daemon treat an unmounted drive as offline instead of failing.
std::optional<std::string> root_problem(const std::filesystem::path& root);

}  // namespace imgsearchd
