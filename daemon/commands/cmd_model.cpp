// `imgsearchd model pull` and `imgsearchd model list`: fetch the weights of
// a known CLIP model (or any file given by URL and SHA-256) into the models
// folder, and show which ones are there.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "daemon/commands/app.h"
#include "daemon/terminal/download_progress.h"
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

fs::path models_dir(const fs::path& dir_option, AppContext& context) {
  return fs::absolute(dir_option.empty() ? models_dir_or_default(context.config().model.dir) : dir_option);
}

void run_pull(const PullOptions& options, AppContext& context) {
  const PullSpec spec{options.name, options.url, options.sha256};
  const DownloadRequest request = pull_request(spec, models_dir(options.dir, context));
  const std::string file_name = request.destination.filename().string();
  TerminalDownloadProgress progress(TerminalDownloadProgress::Style::automatic, stderr, file_name);
  DownloadOptions download_options;
  download_options.progress = &progress;
  const DownloadResult result = download_file(request, download_options);
  const KnownModel* model = options.name.empty() ? nullptr : find_known_model(options.name);
  std::printf("%s is ready: %s\n", model ? model->name.c_str() : file_name.c_str(), result.path.string().c_str());
}

std::string status_text(const ModelFileStatus& status) {
  using State = ModelFileStatus::State;
  switch (status.state) {
    case State::present: return "present";
    case State::verified: return "verified";
    case State::bad_checksum: return "BAD SHA-256 " + status.found_sha256.substr(0, 12) + "...";
    case State::partial: return "partial, " + std::to_string(status.partial_bytes) + " bytes";
    case State::missing: return "missing";
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
    const ModelFileStatus status = model_file_status(model, dir, options.verify);
    using State = ModelFileStatus::State;
    failed = failed || status.state == State::bad_checksum;
    any_missing = any_missing || (status.state != State::present && status.state != State::verified);
    const char* mark = &model == configured_model ? "*" : " ";
    std::printf("%s %-14s %-28s %s\n", mark, model.name.c_str(), status_text(status).c_str(),
                status.path.string().c_str());
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
  pull_command->add_option("name", pull->name, "a known model: " + known_model_names());
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
