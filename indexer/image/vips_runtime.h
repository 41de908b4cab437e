// The libvips runtime shared by every decode: initialisation (once per
// process) and the process-wide error log, turned into one message per file.
// Internal to imgsearchd_image.
#pragma once

#include <string>

namespace imgsearchd::image {

// Initialises libvips once per process (later calls do nothing): no
// operation cache, one libvips worker per decode unless VIPS_CONCURRENCY is
// set, and libvips warnings kept for error messages instead of printed.
void ensure_vips_initialised(const char* argv0);

// Clears the warning this thread saw last (call before a decode).
void clear_last_vips_warning();

// What libvips logged for the failure just seen, on one line, and clears the
// log (the last warning when the log is empty).
std::string take_vips_error();

// Clears text a successful decode left in the error log.
void discard_vips_error_text();

}  // namespace imgsearchd::image
