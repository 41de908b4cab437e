// The image routes: metadata, the original file and thumbnails, by id only.
// The only paths opened are those the catalogue holds for the id, and a file
// is served only while its size and modification time are still those it was
// indexed with (otherwise its bytes may no longer be this id's content).
// An image only other services sharing the catalogue hold answers 404 naming
// the holder and its URL for the same resource (api/holders.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "api/errors.h"
#include "api/handlers.h"
#include "api/holders.h"
#include "api/json.h"
#include "api/params.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

namespace {

// This service's files of the image. An image only other services hold (a
// shared catalogue) is a 404 naming the holder and its URL for `resource`
// (api/holders.h); an unknown id a plain 404.
std::vector<FileRecord> indexed_files(ApiState& state, VectorId id, const std::string& resource) {
  std::vector<FileRecord> files;
  const CatalogReaders::Lease reader = state.readers.borrow();
  const std::vector<std::string> paths = reader->paths_of(id);
  for (const std::string& path : paths) {
    if (parse_foreign_path(path)) continue;
    if (std::optional<FileRecord> file = reader->file(path)) files.push_back(std::move(*file));
  }
  if (files.empty()) {
    const std::vector<SourcePath> holders = foreign_paths(paths);
    if (!holders.empty()) throw_held_elsewhere(*reader, id, holders, resource, state.context.catalog_file.source);
    throw NotFound("no indexed image has the id " + id_text(id));
  }
  return files;
}

// An open descriptor of the first file still as it was indexed.
struct OpenedFile {
  std::shared_ptr<int> fd;
  const FileRecord* record = nullptr;
};

OpenedFile open_as_indexed(VectorId id, const std::vector<FileRecord>& files) {
  for (const FileRecord& file : files) {
    const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) continue;
    struct stat info {};
    const bool same = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) &&
                      static_cast<uint64_t>(info.st_size) == file.signature.size &&
                      static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec ==
                          file.signature.mtime_ns;
    if (!same) {
      ::close(fd);
      continue;
    }
    return OpenedFile{std::shared_ptr<int>(new int(fd), [](int* p) { ::close(*p); delete p; }), &file};
  }
  throw NotFound("the image " + id_text(id) + " is indexed, but none of its " + std::to_string(files.size()) +
                 " files can be read as indexed (changed or gone since; a rescan will update it)");
}

// True (and a 304 written) when the client already holds this version.
bool not_modified(Call& call, const std::string& etag) {
  call.response.set_header("ETag", etag);
  const std::string held = call.request.get_header_value("If-None-Match");
  if (held.empty()) return false;
  if (held == "*" || held.find(etag) != std::string::npos) {
    call.response.status = 304;
    return true;
  }
  return false;
}

int thumbnail_size(const httplib::Request& request) {
  if (!request.has_param("size")) return 256;
  const std::string text = request.get_param_value("size");
  const bool digits = !text.empty() && text.size() <= 4 &&
                      std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
  const int size = digits ? std::stoi(text) : 0;
  if (size < 16 || size > 1024) throw InvalidInput("size must be an integer between 16 and 1024, got " + quoted(text));
  return size;
}

std::string thumbnail_format(const httplib::Request& request) {
  if (!request.has_param("format")) return "jpeg";
  const std::string format = request.get_param_value("format");
  if (format != "jpeg" && format != "webp") throw InvalidInput("format must be jpeg or webp, got " + quoted(format));
  return format;
}

}  // namespace

void image_metadata(Call& call) {
  const VectorId id = parse_image_id(call.request.matches[1]);
  check_query_parameters(call.request, {});
  const std::vector<FileRecord> files = indexed_files(call.state, id, "");
  std::vector<std::string> paths;
  for (const FileRecord& file : files) paths.push_back(file.path);
  respond_json(call.response, image_json(id, files, call.state.image_info.get(id, paths)));
}

void image_file(Call& call) {
  const VectorId id = parse_image_id(call.request.matches[1]);
  check_query_parameters(call.request, {});
  const std::vector<FileRecord> files = indexed_files(call.state, id, "/file");
  const OpenedFile opened = open_as_indexed(id, files);
  const uint64_t size = opened.record->signature.size;
  call.response.set_header("Cache-Control", "private, max-age=86400");
  call.response.set_header("Accept-Ranges", "bytes");
  // The id is the content: the same id is always the same bytes.
  if (not_modified(call, "\"" + id_text(id) + "\"")) return;
  const httplib::Ranges& ranges = call.request.ranges;
  if (ranges.size() == 1 && ranges[0].first >= 0 && static_cast<uint64_t>(ranges[0].first) >= size) {
    // httplib would answer 206 with nothing; RFC 9110 says 416.
    call.response.set_header("Content-Range", "bytes */" + std::to_string(size));
    throw HttpError(416, "range_not_satisfiable",
                    "the range starts at or after the end of the file (" + std::to_string(size) + " bytes)");
  }
  char head[32] = {};
  const ssize_t got = ::pread(*opened.fd, head, sizeof head, 0);
  const ImageFormat format = format_of_bytes(head, got > 0 ? static_cast<size_t>(got) : 0);
  const std::shared_ptr<int> fd = opened.fd;
  call.response.set_content_provider(
      size, format.mime, [fd](size_t offset, size_t length, httplib::DataSink& sink) {
        char buffer[64 * 1024];
        const ssize_t read = ::pread(*fd, buffer, std::min(length, sizeof buffer), static_cast<off_t>(offset));
        if (read <= 0) return false;  // shrank under us: end the response early
        sink.write(buffer, static_cast<size_t>(read));
        return true;
      });
}

void image_thumbnail(Call& call) {
  const VectorId id = parse_image_id(call.request.matches[1]);
  check_query_parameters(call.request, {"size", "format"});
  const int size = thumbnail_size(call.request);
  const std::string format = thumbnail_format(call.request);
  // The holder's URL asks for what this request asked for.
  std::string resource = "/thumbnail";
  const char* separator = "?";
  if (call.request.has_param("size")) {
    resource += "?size=" + std::to_string(size);
    separator = "&";
  }
  if (call.request.has_param("format")) resource += separator + std::string("format=") + format;
  const std::vector<FileRecord> files = indexed_files(call.state, id, resource);
  call.response.set_header("Cache-Control", "private, max-age=86400");
  if (not_modified(call, "\"" + id_text(id) + "-" + std::to_string(size) + "." + format + "\"")) return;
  const OpenedFile opened = open_as_indexed(id, files);
  const std::string bytes = call.state.thumbnails.get(id, opened.record->path, size, format);
  call.response.set_content(bytes, format == "webp" ? "image/webp" : "image/jpeg");
}

}  // namespace imgsearchd::api
