// The candidate rules of the scanner (see scanner.h), as one object that the
// scanner and the watcher share, so a file the watcher reports is exactly a
// file a scan would find (and a folder it watches one a scan would enter).
//
// Two ways to ask:
//  - step by step while walking (the scanner's and the poller's way): names
//    skipped by hidden/clutter rules, the extension, exclude and include
//    patterns on (name, path relative to the root);
//  - for one path relative to its root (the inotify watcher's way):
//    is_candidate_file() and enters_folder() apply every rule to the path and
//    to each folder above it, as a walk from the root would.
//
// Thread-safety: the matching methods reuse scratch buffers; one PathFilter
// must not be used by two threads at once; give each thread its own.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/core/errors.h"

namespace imgsearchd {

// Ends a scan (or a watch) before it starts: a root that does not exist or is
// not a folder, an empty pattern or extension. The message names the culprit.
// A bad option is invalid input; a root that is not there is not found.
class ScanError : public Error {
 public:
  explicit ScanError(const std::string& message, ErrorKind kind = ErrorKind::invalid_input) : Error(kind, message) {}
};

// jpg, jpeg, png, webp, gif, bmp, tif, tiff, heic, heif, avif.
const std::vector<std::string>& default_image_extensions();

// Names skipped when `skip_clutter` (files and folders, any depth): .DS_Store,
// ._* (macOS resource forks), @eaDir (Synology thumbnails), .thumbnails,
// System Volume Information, $RECYCLE.BIN, .Trashes, .Spotlight-V100,
// .fseventsd, .AppleDouble, lost+found. fnmatch patterns on the name alone.
const std::vector<std::string>& clutter_names();

// What is a candidate; the meaning of each field is in scanner.h (ScanOptions
// holds the same fields, plus the roots and link following).
struct CandidateRules {
  std::vector<std::string> extensions = default_image_extensions();  // empty = every file
  std::vector<std::string> include;                                  // empty = everything
  std::vector<std::string> exclude;
  bool skip_hidden = true;
  bool skip_clutter = true;
};

class PathFilter {
 public:
  // Throws ScanError naming an empty pattern or an unusable extension.
  explicit PathFilter(const CandidateRules& rules);
  ~PathFilter();
  PathFilter(PathFilter&&) noexcept;
  PathFilter& operator=(PathFilter&&) noexcept;
  // A copy: PathFilter(other.rules()).
  const CandidateRules& rules() const;

  // --- Whole paths, relative to the root ('/'-separated, no leading '/';
  // "" is the root itself).

  // A scan from the root would report this file (were it a regular file).
  bool is_candidate_file(std::string_view relative) const;
  // A scan from the root would enter this folder. The root itself: true.
  bool enters_folder(std::string_view relative) const;
  // This folder, or one above it, matches an include pattern (or there are
  // none): every candidate file below it counts as included.
  bool folder_included(std::string_view relative) const;

  // --- Step by step: `name` is the entry's own name (NUL-terminated),
  // `relative` its path below the root.

  // Hidden (when skip_hidden) or clutter (when skip_clutter): neither listed
  // nor entered.
  bool skips_name(const char* name) const;
  bool has_candidate_extension(const char* name, size_t length) const;
  bool excludes(const char* name, std::string_view relative) const;
  bool includes(const char* name, std::string_view relative) const;
  // No include patterns: every entry counts as included.
  bool includes_everything() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgsearchd
