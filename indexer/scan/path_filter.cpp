#include "indexer/scan/path_filter.h"

#include <fnmatch.h>
#include <strings.h>

#include <cstring>

namespace imgsearchd {

const std::vector<std::string>& default_image_extensions() {
  static const std::vector<std::string> extensions{"jpg", "jpeg", "png",  "webp", "gif", "bmp",
                                                   "tif", "tiff", "heic", "heif", "avif"};
  return extensions;
}

const std::vector<std::string>& clutter_names() {
  static const std::vector<std::string> names{
      ".DS_Store", "._*", "@eaDir", ".thumbnails", "System Volume Information", "$RECYCLE.BIN",
      ".Trashes",  ".Spotlight-V100", ".fseventsd", ".AppleDouble", "lost+found"};
  return names;
}

namespace {

bool has_glob_characters(const std::string& pattern) {
  return pattern.find_first_of("*?[\\") != std::string::npos;
}

// Glob patterns as described in scanner.h. fnmatch does the matching of one
// component; `**` and the anchoring rules are done here (no library offers
// both with these semantics).
class PatternSet {
 public:
  PatternSet(const std::vector<std::string>& patterns, const char* option_name) {
    for (size_t i = 0; i < patterns.size(); ++i) {
      std::string_view text = patterns[i];
      while (!text.empty() && text.back() == '/') text.remove_suffix(1);
      const bool anchored = text.find('/') != std::string_view::npos;  // a leading '/' anchors too
      while (!text.empty() && text.front() == '/') text.remove_prefix(1);
      if (text.empty()) {
        throw ScanError(std::string(option_name) + " pattern " + std::to_string(i + 1) + " (\"" + patterns[i] +
                        "\") is empty: expected a glob such as \"*.jpg\" or \"2019/**\"");
      }
      if (!anchored) {
        name_patterns_.emplace_back(text);
        continue;
      }
      std::vector<std::string> components;
      size_t start = 0;
      for (;;) {
        const size_t slash = text.find('/', start);
        const std::string_view component = text.substr(start, slash - start);
        // "a//b" means "a/b"; "**/**" means "**".
        if (!component.empty() && !(component == "**" && !components.empty() && components.back() == "**")) {
          components.emplace_back(component);
        }
        if (slash == std::string_view::npos) break;
        start = slash + 1;
      }
      anchored_patterns_.push_back(std::move(components));
    }
  }

  bool empty() const { return name_patterns_.empty() && anchored_patterns_.empty(); }

  // `name` is the entry's own name, `relative` its path below the root.
  bool matches(const char* name, std::string_view relative) const {
    for (const std::string& pattern : name_patterns_) {
      if (::fnmatch(pattern.c_str(), name, 0) == 0) return true;
    }
    if (anchored_patterns_.empty()) return false;
    components_.clear();
    size_t start = 0;
    for (;;) {
      const size_t slash = relative.find('/', start);
      components_.push_back(relative.substr(start, slash - start));
      if (slash == std::string_view::npos) break;
      start = slash + 1;
    }
    for (const auto& pattern : anchored_patterns_) {
      if (match_from(pattern, 0, 0)) return true;
    }
    return false;
  }

 private:
  bool match_from(const std::vector<std::string>& pattern, size_t p, size_t c) const {
    if (p == pattern.size()) return c == components_.size();
    if (pattern[p] == "**") {
      for (size_t next = c; next <= components_.size(); ++next) {
        if (match_from(pattern, p + 1, next)) return true;
      }
      return false;
    }
    if (c == components_.size()) return false;
    scratch_.assign(components_[c]);  // fnmatch needs a terminated string
    return ::fnmatch(pattern[p].c_str(), scratch_.c_str(), 0) == 0 && match_from(pattern, p + 1, c + 1);
  }

  std::vector<std::string> name_patterns_;
  std::vector<std::vector<std::string>> anchored_patterns_;
  // Reused between calls so matching allocates nothing once warm.
  mutable std::vector<std::string_view> components_;
  mutable std::string scratch_;
};

class ExtensionFilter {
 public:
  explicit ExtensionFilter(const std::vector<std::string>& extensions) {
    for (size_t i = 0; i < extensions.size(); ++i) {
      std::string extension = extensions[i];
      if (!extension.empty() && extension.front() == '.') extension.erase(0, 1);
      if (extension.empty() || extension.find('/') != std::string::npos) {
        throw ScanError("extension " + std::to_string(i + 1) + " (\"" + extensions[i] +
                        "\") is not usable: expected a file name extension such as \"jpg\"");
      }
      extensions_.push_back(std::move(extension));
    }
  }

  bool matches(const char* name, size_t length) const {
    if (extensions_.empty()) return true;
    for (const std::string& extension : extensions_) {
      const size_t n = extension.size();
      if (length > n && name[length - n - 1] == '.' && ::strcasecmp(name + length - n, extension.c_str()) == 0) {
        return true;
      }
    }
    return false;
  }

 private:
  std::vector<std::string> extensions_;
};

class ClutterFilter {
 public:
  ClutterFilter() {
    for (const std::string& name : clutter_names()) {
      (has_glob_characters(name) ? globs_ : literals_).push_back(name);
    }
  }

  bool matches(const char* name) const {
    for (const std::string& literal : literals_) {
      if (std::strcmp(literal.c_str(), name) == 0) return true;
    }
    for (const std::string& glob : globs_) {
      if (::fnmatch(glob.c_str(), name, 0) == 0) return true;
    }
    return false;
  }

 private:
  std::vector<std::string> literals_;
  std::vector<std::string> globs_;
};

}  // namespace

struct PathFilter::Impl {
  explicit Impl(const CandidateRules& r)
      : rules(r), extensions(r.extensions), include(r.include, "include"), exclude(r.exclude, "exclude") {}

  CandidateRules rules;
  ExtensionFilter extensions;
  PatternSet include;
  PatternSet exclude;
  ClutterFilter clutter;
  mutable std::string name;  // a terminated copy of one component
};

PathFilter::PathFilter(const CandidateRules& rules) : impl_(std::make_unique<Impl>(rules)) {}
PathFilter::~PathFilter() = default;
PathFilter::PathFilter(PathFilter&&) noexcept = default;
PathFilter& PathFilter::operator=(PathFilter&&) noexcept = default;

const CandidateRules& PathFilter::rules() const { return impl_->rules; }

bool PathFilter::skips_name(const char* name) const {
  if (impl_->rules.skip_hidden && name[0] == '.') return true;
  return impl_->rules.skip_clutter && impl_->clutter.matches(name);
}

bool PathFilter::has_candidate_extension(const char* name, size_t length) const {
  return impl_->extensions.matches(name, length);
}

bool PathFilter::excludes(const char* name, std::string_view relative) const {
  return impl_->exclude.matches(name, relative);
}

bool PathFilter::includes(const char* name, std::string_view relative) const {
  return impl_->include.matches(name, relative);
}

bool PathFilter::includes_everything() const { return impl_->include.empty(); }

namespace {

// Walks the folders above the last component of `relative` as the scanner
// would enter them. Returns false when one of them would not be entered;
// `included` says whether one of them (or none needed) matched an include.
bool walk_folders_above(const PathFilter& filter, std::string_view relative, std::string& name, bool& included) {
  included = filter.includes_everything();
  size_t start = 0;
  for (;;) {
    const size_t slash = relative.find('/', start);
    if (slash == std::string_view::npos) return true;
    name.assign(relative.substr(start, slash - start));
    const std::string_view folder = relative.substr(0, slash);
    if (!name.empty()) {
      if (filter.skips_name(name.c_str()) || filter.excludes(name.c_str(), folder)) return false;
      if (!included && filter.includes(name.c_str(), folder)) included = true;
    }
    start = slash + 1;
  }
}

}  // namespace

bool PathFilter::is_candidate_file(std::string_view relative) const {
  while (!relative.empty() && relative.back() == '/') relative.remove_suffix(1);
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  if (relative.empty()) return false;
  bool included = false;
  if (!walk_folders_above(*this, relative, impl_->name, included)) return false;
  const size_t slash = relative.rfind('/');
  impl_->name.assign(relative.substr(slash == std::string_view::npos ? 0 : slash + 1));
  const char* name = impl_->name.c_str();
  if (skips_name(name) || !has_candidate_extension(name, impl_->name.size()) || excludes(name, relative)) return false;
  return included || includes(name, relative);
}

bool PathFilter::enters_folder(std::string_view relative) const {
  while (!relative.empty() && relative.back() == '/') relative.remove_suffix(1);
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  if (relative.empty()) return true;
  bool included = false;
  if (!walk_folders_above(*this, relative, impl_->name, included)) return false;
  const size_t slash = relative.rfind('/');
  impl_->name.assign(relative.substr(slash == std::string_view::npos ? 0 : slash + 1));
  return !skips_name(impl_->name.c_str()) && !excludes(impl_->name.c_str(), relative);
}

bool PathFilter::folder_included(std::string_view relative) const {
  while (!relative.empty() && relative.back() == '/') relative.remove_suffix(1);
  while (!relative.empty() && relative.front() == '/') relative.remove_prefix(1);
  if (includes_everything()) return true;
  if (relative.empty()) return false;
  bool included = false;
  walk_folders_above(*this, relative, impl_->name, included);
  if (included) return true;
  const size_t slash = relative.rfind('/');
  impl_->name.assign(relative.substr(slash == std::string_view::npos ? 0 : slash + 1));
  return includes(impl_->name.c_str(), relative);
}

}  // namespace imgsearchd
