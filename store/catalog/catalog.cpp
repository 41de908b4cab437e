// The Catalog facade: checks what callers can get wrong, then forwards to
// the backend of its location (SQLite here, PostgreSQL in store/postgresql).
#include "store/catalog/catalog.h"

#include <spdlog/spdlog.h>

#include <string_view>
#include <unordered_set>
#include <utility>

#include "store/catalog/catalog_sqlite.h"
#include "store/core/catalog_backend.h"
#include "store/core/errors.h"
#include "store/core/normalise.h"
#include "store/postgresql/postgres_catalog.h"

namespace imgsearchd {
namespace {

// Checks everything a caller can get wrong before anything is written, and
// returns the batch's embeddings L2-normalised (empty ones stay empty).
std::vector<std::vector<float>> validate(const Batch& batch, const CatalogModel& model) {
  std::unordered_set<std::string_view> paths;
  auto check_path = [&](const std::string& path) {
    if (path.empty()) throw InvalidInput("the batch has a file with an empty path");
    if (!paths.insert(path).second) {
      throw InvalidInput("the batch names '" + path + "' more than once; each path may appear once");
    }
  };
  for (const std::string& path : batch.deleted) check_path(path);
  for (const FailedFile& failed : batch.failed) {
    check_path(failed.path);
    if (failed.reason.empty()) throw InvalidInput("failed file '" + failed.path + "' has no reason");
  }
  std::vector<std::vector<float>> normalised;
  normalised.reserve(batch.indexed.size());
  for (const IndexedFile& file : batch.indexed) {
    check_path(file.path);
    std::vector<float> vector = file.embedding;
    if (!vector.empty() && model.id == kNoModel) {
      throw InvalidInput("the embedding of '" + file.path +
                                  "' comes in a batch without a model; give the batch the model's id");
    }
    if (!vector.empty()) {
      if (vector.size() != static_cast<size_t>(model.dim)) {
        throw InvalidInput("the embedding of '" + file.path + "' has " + std::to_string(vector.size()) +
                                    " values, expected " + std::to_string(model.dim) + " for model '" + model.name +
                                    "'");
      }
      if (!normalise_l2(vector.data(), vector.size())) {
        throw InvalidInput("the embedding of '" + file.path +
                                    "' is zero or not finite; expected a finite non-zero vector");
      }
    }
    normalised.push_back(std::move(vector));
  }
  return normalised;
}

}  // namespace

Catalog::Catalog(std::unique_ptr<CatalogBackend> backend) : backend_(std::move(backend)) {}
Catalog::Catalog(Catalog&&) noexcept = default;
Catalog& Catalog::operator=(Catalog&&) noexcept = default;
Catalog::~Catalog() = default;

int Catalog::latest_schema_version() { return sqlite_schema_version(); }

Catalog Catalog::open(const CatalogLocation& location) {
  if (location.backend == CatalogLocation::Backend::postgresql) return Catalog(PostgresCatalog::open(location, false));
  return Catalog(SqliteCatalog::open(location.sqlite_file));
}

Catalog Catalog::open_read_only(const CatalogLocation& location) {
  if (location.backend == CatalogLocation::Backend::postgresql) return Catalog(PostgresCatalog::open(location, true));
  return Catalog(SqliteCatalog::open_read_only(location.sqlite_file));
}

Catalog Catalog::open_reader() const { return Catalog(backend_->open_reader()); }

const CatalogLocation& Catalog::location() const { return backend_->location(); }
const std::filesystem::path& Catalog::file() const { return backend_->file(); }
bool Catalog::read_only() const { return backend_->read_only(); }
std::string Catalog::catalog_id() const { return backend_->catalog_id(); }
uint64_t Catalog::generation() const { return backend_->generation(); }

ModelId Catalog::model(const std::string& name, const std::string& fingerprint, int dim) {
  if (name.empty()) throw InvalidInput("a model needs a name");
  if (dim <= 0) {
    throw InvalidInput("model '" + name + "' has dimension " + std::to_string(dim) + ", expected a positive number");
  }
  return backend_->model(name, fingerprint, dim);
}

std::optional<CatalogModel> Catalog::find_model(ModelId id) const { return backend_->find_model(id); }
std::vector<CatalogModel> Catalog::models() const { return backend_->models(); }

std::unordered_map<std::string, KnownFile> Catalog::known_files(ModelId model, const std::string& root) const {
  return backend_->known_files(model, root);
}
std::vector<std::string> Catalog::paths_under(const std::string& root) const { return backend_->paths_under(root); }
std::optional<KnownFile> Catalog::known_file(ModelId model, const std::string& path) const {
  return backend_->known_file(model, path);
}
std::optional<FileRecord> Catalog::file_with_signature(const StatSignature& signature) const {
  return backend_->file_with_signature(signature);
}
std::optional<ContentStatus> Catalog::find_content(const ContentHash& hash, ModelId model) const {
  return backend_->find_content(hash, model);
}

CommitResult Catalog::commit(const Batch& batch) {
  if (backend_->read_only()) throw StoreError(file(), "commit: this connection was opened read-only");
  // kNoModel: contents are recorded, nothing is embedded; no embedding row
  // has model id 0, so nothing becomes live.
  const std::optional<CatalogModel> model =
      batch.model == kNoModel ? std::optional<CatalogModel>(CatalogModel{kNoModel, {}, {}, 0}) : find_model(batch.model);
  if (!model) throw InvalidInput("commit: the batch's model id " + std::to_string(batch.model) + " is unknown");
  const std::vector<std::vector<float>> embeddings = validate(batch, *model);
  return backend_->commit(batch, *model, embeddings);
}

uint64_t Catalog::purge_orphaned_contents() { return backend_->purge_orphaned_contents(); }

std::vector<std::string> Catalog::paths_of(VectorId id) const { return backend_->paths_of(id); }
std::optional<VectorId> Catalog::vector_id_of(const std::string& path) const { return backend_->vector_id_of(path); }
std::optional<FileRecord> Catalog::file(const std::string& path) const { return backend_->file(path); }
std::optional<std::vector<float>> Catalog::embedding(VectorId id, ModelId model) const {
  return backend_->embedding(id, model);
}
uint64_t Catalog::for_each_live_embedding(
    ModelId model, const std::function<void(VectorId, const std::vector<float>&)>& visit) const {
  return backend_->for_each_live_embedding(model, visit);
}
uint64_t Catalog::live_count(ModelId model) const { return backend_->live_count(model); }
CatalogCounts Catalog::counts() const { return backend_->counts(); }
std::vector<FailedFile> Catalog::failed_files() const { return backend_->failed_files(); }

void Catalog::advertise(const std::string& address) {
  if (backend_->read_only()) throw StoreError(file(), "advertise: this connection was opened read-only");
  backend_->advertise(address);
}
std::optional<std::string> Catalog::source_address(const std::string& source) const {
  return backend_->source_address(source);
}

// The changes that take `store` from its generation to the catalogue's: the
// touched contents live now and not in the store are added, the others the
// store holds removed. Embeddings never change, so a content in both stays.
static std::optional<VectorChanges> changes_for(CatalogBackend& backend, const VectorStore& store) {
  std::optional<TouchedContents> touched = backend.touched_since(store.generation(), store.model());
  if (!touched) return std::nullopt;
  VectorChanges changes;
  changes.model = store.model();
  changes.generation = touched->generation;
  changes.since = store.generation();
  for (LiveVector& live : touched->live) {
    if (!store.contains(live.id)) changes.became_live.push_back(std::move(live));
  }
  for (VectorId id : touched->not_live) {
    if (store.contains(id)) changes.orphaned.push_back(id);
  }
  return changes;
}

// Every live vector of the store's model, in one snapshot.
static void reload(CatalogBackend& backend, VectorStore& store) {
  store.reload([&](const std::function<void(VectorId, const std::vector<float>&)>& visit) {
    return backend.for_each_live_embedding(store.model(), visit);
  });
}

std::string Catalog::rebuild_reason(uint64_t generation, uint64_t size, ModelId model) const {
  const std::optional<uint64_t> behind = backend_->touched_count_since(generation);
  if (!behind) {
    return has_change_log() ? "the change log no longer reaches back to generation " + std::to_string(generation)
                            : "there is no change log";
  }
  // Catching up reads the vector of each content the log names, about
  // twice as slowly per vector as a rebuild reads every live one (README
  // "Several machines": 100,000 in 7.6 s against 105,000 in 4.3 s), so a
  // rebuild is the quicker way once the log names more than about half as
  // many contents as a rebuild reads. The count of live vectors costs a
  // scan of the catalogue: only when the store's size does not settle it.
  if (2 * *behind <= size) return {};
  const uint64_t live = backend_->live_count(model);
  if (2 * *behind <= live) return {};
  return "it is " + std::to_string(*behind) + " contents behind, more than half of its " + std::to_string(size) +
         " vectors and of the catalogue's " + std::to_string(live) + " live ones (rebuilding is quicker)";
}

// The change log's way when rebuild_reason allows it, else a reload.
static StoreUpdate follow(const Catalog& catalog, CatalogBackend& backend, VectorStore& store) {
  const std::string reason = catalog.rebuild_reason(store.generation(), store.size(), store.model());
  if (reason.empty()) {
    if (std::optional<VectorChanges> changes = changes_for(backend, store)) {
      if (changes->generation != store.generation()) store.apply(*changes);
      return StoreUpdate::applied;
    }
  }
  const uint64_t from = store.generation();
  reload(backend, store);
  spdlog::info("vector index of model {}: {}; rebuilt from the catalogue at generation {} (was at {}): {} vectors",
               store.model(), reason.empty() ? "the change log was pruned meanwhile" : reason, store.generation(),
               from, store.size());
  return StoreUpdate::rebuilt;
}

StoreUpdate Catalog::apply_commit(VectorStore& store, const VectorChanges& commit) const {
  if (commit.since.value_or(commit.generation - 1) == store.generation() || !has_change_log()) {
    store.apply(commit);  // throws when a commit was missed
    return StoreUpdate::applied;
  }
  return follow(*this, *backend_, store);
}

bool Catalog::has_change_log() const { return location().backend == CatalogLocation::Backend::postgresql; }

StoreUpdate Catalog::catch_up(VectorStore& store) const {
  if (!has_change_log()) return StoreUpdate::no_change_log;
  if (store.generation() == generation()) return StoreUpdate::current;
  return follow(*this, *backend_, store);
}

uint64_t Catalog::prune_change_log() {
  if (backend_->read_only()) throw StoreError(file(), "pruning the change log: this connection was opened read-only");
  return backend_->prune_change_log();
}

std::unique_ptr<ChangeListener> Catalog::change_listener() const { return backend_->change_listener(); }

CatalogRows Catalog::dump() const { return backend_->dump(); }

void Catalog::load(const CatalogRows& rows) {
  if (backend_->read_only()) throw StoreError(file(), "load: this connection was opened read-only");
  backend_->load(rows);
}

}  // namespace imgsearchd
