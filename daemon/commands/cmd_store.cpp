// `imgsearchd store migrate --to postgresql|sqlite`: copies the catalogue
// between the SQLite file of the data folder and the PostgreSQL database of
// store.postgresql.dsn: files, contents, embeddings and models, nothing
// re-embedded. The target must be empty. The vector index files need no
// copy: they are rebuilt from the catalogue (no model call) on first use.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "daemon/commands/app.h"
#include "store/catalog/catalog.h"
#include "store/core/errors.h"
#include "store/data/data_dir.h"

namespace imgsearchd {

namespace fs = std::filesystem;

namespace {

struct MigrateArguments {
  std::string to;
};

void run_migrate(AppContext& app, const MigrateArguments& args) {
  const Config& config = app.config();
  app.apply_log_level();
  if (config.store.postgresql.dsn.empty()) {
    throw InvalidInput("store migrate needs store.postgresql.dsn in the configuration: the database to copy to or from");
  }
  Config as_postgresql = config;
  as_postgresql.store.backend = Config::Store::Backend::postgresql;
  const CatalogLocation postgresql = catalog_location(as_postgresql);
  const CatalogLocation sqlite = catalog_path(config.data_dir);
  const bool to_postgresql = args.to == "postgresql";
  if (to_postgresql && !fs::exists(sqlite.sqlite_file)) {
    throw NotFound("there is no SQLite catalogue to copy: " + sqlite.sqlite_file.string() + " does not exist");
  }
  if (!to_postgresql && fs::exists(sqlite.sqlite_file)) {
    throw InvalidInput("the SQLite catalogue " + sqlite.sqlite_file.string() +
                       " exists already; move it aside to copy the PostgreSQL catalogue there");
  }
  // No service or `index` may write the data folder's catalogue meanwhile.
  const WriterLock lock = WriterLock::acquire(config.data_dir);
  const Catalog source = Catalog::open_read_only(to_postgresql ? sqlite : postgresql);
  Catalog target = Catalog::open(to_postgresql ? postgresql : sqlite);
  const CatalogRows rows = source.dump();
  target.load(rows);
  std::printf("copied %zu files, %zu contents, %zu embeddings and %zu models from %s to %s\n", rows.files.size(),
              rows.contents.size(), rows.embeddings.size(), rows.models.size(), source.file().c_str(),
              target.file().c_str());
  std::printf("set store.backend: %s in the configuration to use it\n", args.to.c_str());
}

}  // namespace

void register_store_commands(CLI::App& app, AppContext& context) {
  CLI::App* store = app.add_subcommand("store", "manage the catalogue's storage");
  store->require_subcommand(1);
  auto args = std::make_shared<MigrateArguments>();
  CLI::App* migrate = store->add_subcommand(
      "migrate", "copy the catalogue between the data folder's SQLite file and store.postgresql.dsn (no re-embedding)");
  migrate->add_option("--to", args->to, "the backend to copy to")
      ->required()
      ->check(CLI::IsMember({"postgresql", "sqlite"}));
  migrate->callback([&context, args] { run_migrate(context, *args); });
}

}  // namespace imgsearchd
