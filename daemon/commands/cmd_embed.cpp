// `imgsearchd embed`: prints L2-normalised CLIP embeddings of images and texts
// as JSON, for scripts and for checking a model by hand.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

#include "daemon/commands/app.h"
#include "daemon/commands/model_options.h"
#include "indexer/image/image_loader.h"
#include "indexer/session/model_session.h"

namespace imgsearchd {
namespace {

struct EmbedArguments {
  std::string model;
  std::vector<std::string> images;
  std::vector<std::string> texts;
};

nlohmann::json vector_json(const float* values, int dim) { return std::vector<float>(values, values + dim); }

int run_embed(AppContext& context, const EmbedArguments& args) {
  const Config& config = context.config();
  init_image_library("imgsearchd");
  ModelSession session(model_session_options(config, args.model));
  const int dim = session.info().embed_dim;

  nlohmann::json results = nlohmann::json::array();
  bool any_failed = false;
  for (const ImageEmbedding& image :
       session.embed_image_files(args.images, static_cast<size_t>(config.model.batch_size))) {
    if (image.ok()) {
      results.push_back({{"image", image.file}, {"embedding", image.embedding}});
    } else {
      results.push_back({{"image", image.file}, {"error", image.error}});
      any_failed = true;
    }
  }

  if (!args.texts.empty()) {
    std::vector<float> embeddings = session.embed_texts(args.texts);
    for (size_t i = 0; i < args.texts.size(); ++i)
      results.push_back({{"text", args.texts[i]}, {"embedding", vector_json(&embeddings[i * dim], dim)}});
  }

  nlohmann::json out = {{"model", session.name()},
                        {"weights", session.weights().string()},
                        {"format", session.info().format},
                        {"dim", dim},
                        {"results", results}};
  std::cout << out.dump() << "\n";
  return any_failed ? 1 : 0;
}

}  // namespace

void register_embed_command(CLI::App& app, AppContext& context) {
  auto args = std::make_shared<EmbedArguments>();
  CLI::App* cmd = app.add_subcommand("embed", "print normalised CLIP embeddings of images and texts as JSON");
  cmd->add_option("-m,--model", args->model, "model name or weights file (default: config model.name)");
  cmd->add_option("-i,--image", args->images, "image file(s) to embed");
  cmd->add_option("-t,--text", args->texts, "text(s) to embed");
  cmd->callback([&context, args] {
    if (args->images.empty() && args->texts.empty())
      throw CLI::ValidationError("embed", "give at least one --image FILE or --text TEXT");
    int code = run_embed(context, *args);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace imgsearchd
