// PgCatalog::commit: one batch in one transaction, serialised with every
// other service's commits by the generation row (see postgres_catalog.h).
#include <spdlog/spdlog.h>

#include <map>

#include "store/core/errors.h"
#include "store/postgresql/pg_catalog.h"
#include "store/postgresql/pg_listener.h"

namespace imgsearchd {
namespace {

// The rows of one commit, and the state before it of every content it
// touches (to tell what became live or orphaned), as in the SQLite writer.
// Paths are this source's; "has a path" counts every source's files.
class PgBatchWriter {
 public:
  PgBatchWriter(pg::Connection& db, const CatalogModel& model, const std::string& source,
                const std::filesystem::path& name)
      : db_(db), model_(model), source_(source), name_(name) {}

  void delete_path(const std::string& path) {
    touch_content_of(path);
    db_.exec("DELETE FROM files WHERE source = $1 AND path = $2", {pg::param(source_), pg::param(path)});
  }

  void record_failed(const FailedFile& failed) {
    touch_content_of(failed.path);
    put_file(failed.path, failed.signature, nullptr, failed.reason);
  }

  void record_indexed(const IndexedFile& file, const std::vector<float>& embedding) {
    const VectorId id = vector_id_for(file.hash);
    const std::string hash = file.hash.hex();
    const pg::Result known = db_.exec("SELECT hash FROM contents WHERE vector_id = $1", {pg::param(id)});
    if (known.rows() > 0 && known.text(0, 0) != hash) {
      refuse(file, id, known.text(0, 0));
      return;
    }
    touch(id);
    touch_content_of(file.path);
    // Another service may have the same content: one row, whoever came first.
    db_.exec("INSERT INTO contents (vector_id, hash, size) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
             {pg::param(id), pg::param(hash), pg::param(file.signature.size)});
    if (!embedding.empty()) {
      // An embedding is a function of (content, model): one already there is kept.
      db_.exec("INSERT INTO embeddings (model_id, vector_id, vector) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
               {pg::param(model_.id), pg::param(id), vector_param(embedding)});
    }
    put_file(file.path, file.signature, &id, "");
  }

  // Compares every touched content with its state before the commit, and
  // records the touched contents in the change log under `generation`.
  void finish(uint64_t generation, CommitResult& result) {
    for (const auto& [id, before] : touched_) {
      const bool has_path_now = has_path(id);
      if (before.had_path && !has_path_now) result.orphaned.push_back(id);
      if (!before.was_live && has_path_now && has_embedding(id)) {
        const pg::Result r = db_.exec("SELECT vector FROM embeddings WHERE model_id = $1 AND vector_id = $2",
                                      {pg::param(model_.id), pg::param(id)});
        LiveVector live{id, {}};
        pg_read_vector(r, 0, 0, model_.dim, live.vector, name_);
        result.became_live.push_back(std::move(live));
      }
      db_.exec("INSERT INTO changes (generation, vector_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
               {pg::param(generation), pg::param(id)});
    }
  }

  std::vector<FailedFile> refused;

 private:
  struct Before {
    bool had_path = false;
    bool was_live = false;
  };

  void touch(VectorId id) {
    if (touched_.count(id)) return;
    Before before;
    before.had_path = has_path(id);
    before.was_live = before.had_path && has_embedding(id);
    touched_.emplace(id, before);
  }

  void touch_content_of(const std::string& path) {
    const pg::Result r = db_.exec("SELECT vector_id FROM files WHERE source = $1 AND path = $2",
                                  {pg::param(source_), pg::param(path)});
    if (r.rows() > 0 && !r.is_null(0, 0)) touch(r.integer(0, 0));
  }

  bool has_path(VectorId id) {
    return db_.exec("SELECT EXISTS (SELECT 1 FROM files WHERE vector_id = $1)", {pg::param(id)}).boolean(0, 0);
  }

  bool has_embedding(VectorId id) {
    return db_.exec("SELECT EXISTS (SELECT 1 FROM embeddings WHERE model_id = $1 AND vector_id = $2)",
                    {pg::param(model_.id), pg::param(id)})
        .boolean(0, 0);
  }

  // `id` set: an ok file of that content; null: a failed file with `error`.
  void put_file(const std::string& path, const StatSignature& signature, const VectorId* id, const std::string& error) {
    std::vector<pg::Param> params{pg::param(source_), pg::param(path)};
    for (pg::Param& p : signature_params(signature)) params.push_back(std::move(p));
    params.push_back(pg::param(id ? "ok" : "failed"));
    params.push_back(id ? pg::param(*id) : pg::Param::null());
    params.push_back(id ? pg::Param::null() : pg::param(error));
    db_.exec(
        "INSERT INTO files (source, path, device, inode, size, mtime_ns, state, vector_id, error) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (source, path) DO UPDATE SET "
        "device = EXCLUDED.device, inode = EXCLUDED.inode, size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, "
        "state = EXCLUDED.state, vector_id = EXCLUDED.vector_id, error = EXCLUDED.error",
        params);
  }

  void refuse(const IndexedFile& file, VectorId id, const std::string& known_hash) {
    FailedFile failed{file.path, file.signature,
                      "its content " + file.hash.hex() + " has id " + std::to_string(id) + ", which content " +
                          known_hash + " already has (the two hashes collide in 63 bits); the file cannot be indexed"};
    spdlog::error("catalogue {}: refused '{}': {}", name_.string(), file.path, failed.reason);
    record_failed(failed);
    refused.push_back(std::move(failed));
  }

  pg::Connection& db_;
  const CatalogModel& model_;
  const std::string& source_;
  const std::filesystem::path& name_;
  std::map<VectorId, Before> touched_;  // ordered: the result lists come out sorted by id
};

// How often (in generations) a commit prunes the change log afterwards:
// rarely enough that its counting costs little, often enough that the log
// stays near its bound.
constexpr uint64_t kPruneEvery = 64;

}  // namespace

CommitResult PgCatalog::commit(const Batch& batch, const CatalogModel& model,
                               const std::vector<std::vector<float>>& embeddings) {
  require_writable("commit");
  CommitResult committed = guarded("commit", [&] {
    db_.exec("BEGIN");
    // First, always: the one lock every commit takes (see postgres_catalog.h).
    const uint64_t generation = static_cast<uint64_t>(
        db_.exec("UPDATE catalog SET generation = generation + 1 RETURNING generation").integer(0, 0));
    CommitResult result;
    result.model = model.id;
    result.generation = generation;
    PgBatchWriter writer(db_, model, location_.source, name_);
    for (const std::string& path : batch.deleted) writer.delete_path(path);
    for (const FailedFile& failed : batch.failed) writer.record_failed(failed);
    for (size_t i = 0; i < batch.indexed.size(); ++i) writer.record_indexed(batch.indexed[i], embeddings[i]);
    writer.finish(generation, result);
    result.refused = std::move(writer.refused);
    // Delivered to every listener when (and only if) the transaction commits.
    db_.exec("SELECT pg_notify($1, $2)", {pg::param(kCommitChannel), pg::param(generation)});
    db_.exec("COMMIT");
    return result;
  });
  if (committed.generation % kPruneEvery == 0) {
    try {
      const uint64_t pruned = prune_change_log();
      if (pruned > 0) spdlog::debug("catalogue {}: pruned {} change log entries", name_.string(), pruned);
    } catch (const StoreError& e) {
      // The batch is committed; the log is pruned at a later commit.
      spdlog::warn("{}", e.what());
    }
  }
  return committed;
}

}  // namespace imgsearchd
