// The libvips runtime: see vips_runtime.h.
#include "indexer/image/vips_runtime.h"

#include "store/core/errors.h"

#include <vips/vips8>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>

namespace imgsearchd::image {
namespace {

std::once_flag vips_initialised;

// The last libvips warning raised on this thread. Some loaders fail on a
// corrupt header with only a warning ("invalid chunk type") and nothing in
// the error log; this keeps that text for the file's error message.
thread_local std::string last_vips_warning;

// libvips reports recoverable decoder trouble (a corrupt JPEG marker, an odd
// EXIF block) as GLib warnings on stderr. Indexing millions of files would
// flood the log with them, and every file that really fails gets an error
// message of its own, so they are kept for that message instead of printed.
void keep_vips_warning(const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
  last_vips_warning = message != nullptr ? message : "";
}

void initialise_vips(const char* argv0) {
  if (VIPS_INIT(argv0 != nullptr ? argv0 : "imgsearchd") != 0) {
    throw Unavailable("cannot initialise libvips: " + std::string(vips_error_buffer()));
  }
  // Every file is decoded once, so libvips' operation cache would only hold
  // memory and open files for nothing (by default 100 operations, 100 MB).
  vips_cache_set_max(0);
  // Parallelism comes from decoding one file per pool thread; libvips' own
  // worker threads per image would oversubscribe the cores. VIPS_CONCURRENCY
  // still wins when a user sets it.
  if (std::getenv("VIPS_CONCURRENCY") == nullptr) {
    vips_concurrency_set(1);
  }
  g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, keep_vips_warning, nullptr);
}

}  // namespace

void ensure_vips_initialised(const char* argv0) {
  std::call_once(vips_initialised, initialise_vips, argv0);
}

// libvips keeps one error log for the whole process, not one per thread.
// Take what is there and clear it, so the next failure does not repeat this
// one's text. If two threads fail at the same instant one may get both texts
// (or none); the part of the message we write ourselves always names the
// right file.
std::string take_vips_error() {
  char* text = vips_error_buffer_copy();
  std::string message = text != nullptr ? text : "";
  g_free(text);
  // libvips ends each entry with a newline; join the entries on one line.
  std::replace(message.begin(), message.end(), '\n', ' ');
  while (!message.empty() && message.back() == ' ') message.pop_back();
  if (message.empty()) message = last_vips_warning;
  if (message.empty()) return "libvips gave no detail";
  // This file's entries are the newest, at the end.
  constexpr size_t kMaxDetail = 400;
  if (message.size() > kMaxDetail) message = "..." + message.substr(message.size() - kMaxDetail);
  return message;
}

// A file that decodes can still leave text in the error log (libjpeg's
// "Corrupt JPEG data: extraneous bytes" is logged but is not fatal). Clear
// it, or it would show up in the next failure's message, and a full log
// drops new entries.
void discard_vips_error_text() {
  if (vips_error_buffer()[0] != '\0') vips_error_clear();
}


void clear_last_vips_warning() { last_vips_warning.clear(); }

}  // namespace imgsearchd::image
