#include "indexer/weights/model_registry.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "indexer/model/clip_model.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace fs = std::filesystem;

const std::vector<KnownModel>& known_models() {
  // Copied from OpenAI's clip/clip.py (_MODELS). clip.py takes the SHA-256 of
  // each file from the second-to-last segment of its URL and checks it after
  // download; so do we. Never edit a hash by hand.
  static const std::vector<KnownModel> models{
      {"ViT-B-32", "ViT-B/32", "ViT-B-32.pt",
       "https://openaipublic.azureedge.net/clip/models/"
       "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
       "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af"},
      {"ViT-B-16", "ViT-B/16", "ViT-B-16.pt",
       "https://openaipublic.azureedge.net/clip/models/"
       "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt",
       "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f"},
      {"ViT-L-14", "ViT-L/14", "ViT-L-14.pt",
       "https://openaipublic.azureedge.net/clip/models/"
       "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt",
       "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836"},
      {"ViT-L-14-336", "ViT-L/14@336px", "ViT-L-14-336px.pt",
       "https://openaipublic.azureedge.net/clip/models/"
       "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",
       "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02"},
  };
  return models;
}

const KnownModel* find_known_model(std::string_view name) {
  for (const KnownModel& model : known_models()) {
    if (name == model.name || name == model.openai_name) return &model;
  }
  return nullptr;
}

std::string known_model_names() {
  std::string names;
  for (const KnownModel& model : known_models()) {
    if (!names.empty()) names += ", ";
    names += model.name;
  }
  return names;
}

namespace {

fs::path home_dir() {
  if (const char* home = std::getenv("HOME"); home && *home) return home;
  if (const passwd* entry = getpwuid(getuid()); entry && entry->pw_dir && *entry->pw_dir) return entry->pw_dir;
  throw ModelError("cannot find the models folder: neither $XDG_DATA_HOME nor $HOME is set; set model.dir in the configuration");
}

bool is_existing_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

}  // namespace

fs::path default_models_dir() {
  // The XDG base directory spec says a relative $XDG_DATA_HOME is invalid and must be ignored.
  if (const char* data_home = std::getenv("XDG_DATA_HOME"); data_home && fs::path(data_home).is_absolute()) {
    return fs::path(data_home) / "imgsearchd" / "models";
  }
  return home_dir() / ".local" / "share" / "imgsearchd" / "models";
}

fs::path models_dir_or_default(const fs::path& configured) {
  return configured.empty() ? default_models_dir() : configured;
}

fs::path known_model_path(const KnownModel& model, const fs::path& models_dir) {
  return fs::absolute(models_dir) / model.file_name;
}

fs::path resolve_model_path(const std::string& setting, const fs::path& models_dir) {
  if (setting.empty()) {
    throw ModelError("no model is configured: set model.name to one of " + known_model_names() +
                     " or to the path of a weights file");
  }

  if (const KnownModel* model = find_known_model(setting)) {
    fs::path path = known_model_path(*model, models_dir);
    if (is_existing_file(path)) return path;
    throw ModelError("model " + model->name + " is not downloaded: " + path.string() +
                     " does not exist.\nRun `imgsearchd model pull " + model->name +
                     "`, or without network access fetch\n  " + model->url + "\nelsewhere and put it at\n  " +
                     path.string() + "\n(its SHA-256 must be " + model->sha256 + ")");
  }

  fs::path as_given(setting);
  if (is_existing_file(as_given)) return fs::absolute(as_given);
  fs::path in_models_dir = fs::absolute(models_dir) / as_given;
  if (as_given.is_relative() && is_existing_file(in_models_dir)) return in_models_dir;

  std::string looked_at = fs::absolute(as_given).string();
  if (as_given.is_relative()) looked_at += " nor " + in_models_dir.string();
  throw ModelError("model '" + setting + "' is neither a known model (" + known_model_names() +
                   ") nor an existing weights file: found no file at " + looked_at);
}

DownloadRequest pull_request(const PullSpec& spec, const fs::path& models_dir) {
  DownloadRequest request;
  if (!spec.name.empty()) {
    const KnownModel* model = find_known_model(spec.name);
    if (!model) {
      throw NotFound("unknown model '" + spec.name + "'; known models: " + known_model_names() +
                     ". To fetch another file, give --url and --sha256 without a name.");
    }
    if (!spec.sha256.empty() && spec.url.empty()) {
      throw InvalidInput("--sha256 only goes with --url: " + model->name + " is checked against its published SHA-256");
    }
    // --url alone fetches the same file from a mirror, still checked against the published hash.
    request.url = spec.url.empty() ? model->url : spec.url;
    request.sha256 = spec.sha256.empty() ? model->sha256 : spec.sha256;
    request.destination = known_model_path(*model, models_dir);
  } else {
    if (spec.url.empty() || spec.sha256.empty()) {
      throw InvalidInput("model pull needs a model name (" + known_model_names() + "), or both --url and --sha256");
    }
    const std::string file_name = file_name_of_url(spec.url);
    if (file_name.empty()) {
      throw InvalidInput("cannot take a file name from the URL '" + spec.url +
                         "': it should end with the file's name, like .../ViT-B-32.pt");
    }
    request.url = spec.url;
    request.sha256 = spec.sha256;
    request.destination = fs::absolute(models_dir) / file_name;
  }
  if (!is_sha256_hex(request.sha256)) {
    throw InvalidInput("--sha256 must be 64 hex digits, got '" + request.sha256 + "'");
  }
  return request;
}

std::string file_name_of_url(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const size_t scheme_end = path.find("://");
  const size_t path_start = path.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_start == std::string::npos) return {};
  const std::string name = path.substr(path.rfind('/') + 1);
  return name == "." || name == ".." ? std::string() : name;
}

ModelFileStatus model_file_status(const KnownModel& model, const fs::path& models_dir, bool verify) {
  ModelFileStatus status;
  status.path = known_model_path(model, models_dir);
  std::error_code error;
  if (fs::is_regular_file(status.path, error)) {
    if (!verify) {
      status.state = ModelFileStatus::State::present;
      return status;
    }
    status.found_sha256 = sha256_of_file(status.path);
    status.state = status.found_sha256 == model.sha256 ? ModelFileStatus::State::verified
                                                       : ModelFileStatus::State::bad_checksum;
    return status;
  }
  const fs::path part = partial_path(status.path);
  if (fs::is_regular_file(part, error)) {
    const uintmax_t size = fs::file_size(part, error);
    status.state = ModelFileStatus::State::partial;
    status.partial_bytes = error ? 0 : size;
    return status;
  }
  status.state = ModelFileStatus::State::missing;
  return status;
}

}  // namespace imgsearchd
