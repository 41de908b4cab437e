#include "indexer/weights/model_registry.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <system_error>

#include "indexer/model/clip_model.h"

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

namespace {

std::string known_names() {
  std::string names;
  for (const KnownModel& model : known_models()) {
    if (!names.empty()) names += ", ";
    names += model.name;
  }
  return names;
}

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
    throw ModelError("no model is configured: set model.name to one of " + known_names() +
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
  throw ModelError("model '" + setting + "' is neither a known model (" + known_names() +
                   ") nor an existing weights file: found no file at " + looked_at);
}

}  // namespace imgsearchd
