// `imgsearchd model pull` and `imgsearchd model list`: fetch the weights of
// a known CLIP model (or any file given by URL and SHA-256) into the models
// folder, and show which ones are there.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <system_error>

#include "daemon/commands/app.h"
#include "indexer/weights/model_download.h"
#include "indexer/weights/model_registry.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct PullOptions {
  std::string name;
  fs::path dir;
  std::string url;
  std::string sha256;
};

struct ListOptions {
  fs::path dir;
  bool verify = false;
};

std::string known_names() {
  std::string names;
  for (const KnownModel& model : known_models()) names += (names.empty() ? "" : ", ") + model.name;
  return names;
}

fs::path models_dir(const fs::path& dir_option, AppContext& context) {
  return fs::absolute(dir_option.empty() ? models_dir_or_default(context.config().model.dir) : dir_option);
}

// "http://host/a/b/ViT-B-32.pt?x=1" -> "ViT-B-32.pt"
std::string file_name_of_url(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const size_t scheme_end = path.find("://");
  const size_t path_start = path.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
  if (path_start == std::string::npos) return {};
  const std::string name = path.substr(path.rfind('/') + 1);
  return name == "." || name == ".." ? std::string() : name;
}

void run_pull(const PullOptions& options, AppContext& context) {
  DownloadRequest request;
  std::string label;
  const fs::path dir = models_dir(options.dir, context);

  if (!options.name.empty()) {
    const KnownModel* model = find_known_model(options.name);
    if (!model) {
      throw NotFound("unknown model '" + options.name + "'; known models: " + known_names() +
                     ". To fetch another file, give --url and --sha256 without a name.");
    }
    if (!options.sha256.empty() && options.url.empty()) {
      throw InvalidInput("--sha256 only goes with --url: " + model->name + " is checked against its published SHA-256");
    }
    // --url alone fetches the same file from a mirror, still checked against the published hash.
    request.url = options.url.empty() ? model->url : options.url;
    request.sha256 = options.sha256.empty() ? model->sha256 : options.sha256;
    request.destination = known_model_path(*model, dir);
    label = model->name;
  } else {
    if (options.url.empty() || options.sha256.empty()) {
      throw InvalidInput("model pull needs a model name (" + known_names() + "), or both --url and --sha256");
    }
    const std::string file_name = file_name_of_url(options.url);
    if (file_name.empty()) {
      throw InvalidInput("cannot take a file name from the URL '" + options.url +
                         "': it should end with the file's name, like .../ViT-B-32.pt");
    }
    request.url = options.url;
    request.sha256 = options.sha256;
    request.destination = dir / file_name;
    label = file_name;
  }
  if (!is_sha256_hex(request.sha256)) {
    throw InvalidInput("--sha256 must be 64 hex digits, got '" + request.sha256 + "'");
  }

  const DownloadResult result = download_file(request);
  std::printf("%s is ready: %s\n", label.c_str(), result.path.string().c_str());
}

std::string status_of(const fs::path& path, bool verify, const std::string& sha256, bool& failed) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) {
    if (!verify) return "present";
    const std::string found = sha256_of_file(path);
    if (found == sha256) return "verified";
    failed = true;
    return "BAD SHA-256 " + found.substr(0, 12) + "...";
  }
  const fs::path part = partial_path(path);
  if (fs::is_regular_file(part, error)) {
    const uintmax_t size = fs::file_size(part, error);
    return "partial, " + std::to_string(error ? 0 : size) + " bytes";
  }
  return "missing";
}

void run_list(const ListOptions& options, AppContext& context) {
  const fs::path dir = models_dir(options.dir, context);
  const std::string& configured = context.config().model.name;
  const KnownModel* configured_model = find_known_model(configured);

  std::printf("models folder: %s\n", dir.string().c_str());
  std::printf("  %-14s %-28s %s\n", "NAME", "STATUS", "PATH");
  bool failed = false;
  bool any_missing = false;
  for (const KnownModel& model : known_models()) {
    const fs::path path = known_model_path(model, dir);
    const std::string status = status_of(path, options.verify, model.sha256, failed);
    any_missing = any_missing || (status != "present" && status != "verified");
    const char* mark = &model == configured_model ? "*" : " ";
    std::printf("%s %-14s %-28s %s\n", mark, model.name.c_str(), status.c_str(), path.string().c_str());
  }
  if (configured_model) {
    std::printf("* = the configured model (model.name)\n");
  } else if (!configured.empty()) {
    std::printf("configured model (model.name): %s\n", configured.c_str());
  }
  if (any_missing) std::printf("Download a model with `imgsearchd model pull NAME`; a partial one resumes.\n");
  if (failed) {
    throw Unavailable("a model file in " + dir.string() +
                      " does not have its published SHA-256; delete it and run `imgsearchd model pull NAME` again");
  }
}

}  // namespace

void register_model_commands(CLI::App& app, AppContext& context) {
  CLI::App* model = app.add_subcommand("model", "download and list CLIP model weights");
  model->require_subcommand(1);

  auto pull = std::make_shared<PullOptions>();
  CLI::App* pull_command = model->add_subcommand(
      "pull", "download a model's weights from OpenAI, verify the published SHA-256, and put them in the models folder");
  pull_command->add_option("name", pull->name, "a known model: " + known_names());
  pull_command->add_option("--dir", pull->dir, "models folder (default: model.dir from the configuration)");
  pull_command->add_option("--url", pull->url, "download from this URL instead (a mirror, or any file with --sha256)");
  pull_command->add_option("--sha256", pull->sha256, "expected SHA-256 of the file at --url");
  pull_command->callback([pull, &context] { run_pull(*pull, context); });

  auto list = std::make_shared<ListOptions>();
  CLI::App* list_command = model->add_subcommand("list", "show the known models and whether their weights are here");
  list_command->add_option("--dir", list->dir, "models folder (default: model.dir from the configuration)");
  list_command->add_flag("--verify", list->verify, "check the SHA-256 of every present file (reads them all)");
  list_command->callback([list, &context] { run_list(*list, context); });
}

}  // namespace imgsearchd
