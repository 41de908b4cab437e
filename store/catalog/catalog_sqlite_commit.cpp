// SqliteCatalog::commit: one batch of indexing work in one transaction, and what it
// changed for the vector index.
#include <spdlog/spdlog.h>

#include <map>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

#include "store/catalog/catalog_sqlite.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

// The statements of one commit, prepared once, and the state before the
// commit of every content it touches (to tell what became live or orphaned).
class BatchWriter {
 public:
  BatchWriter(SQLite::Database& db, const CatalogModel& model, const std::filesystem::path& file)
      : model_(model),
        file_(file),
        content_of_path_(db, "SELECT vector_id FROM files WHERE path = ?"),
        hash_of_content_(db, "SELECT hash FROM contents WHERE vector_id = ?"),
        insert_content_(db, "INSERT INTO contents (vector_id, hash, size) VALUES (?, ?, ?)"),
        insert_embedding_(db, "INSERT OR IGNORE INTO embeddings (model_id, vector_id, vector) VALUES (?, ?, ?)"),
        put_file_(db,
                  "INSERT OR REPLACE INTO files (path, device, inode, size, mtime_ns, state, vector_id, error) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
        delete_file_(db, "DELETE FROM files WHERE path = ?"),
        has_path_(db, "SELECT EXISTS (SELECT 1 FROM files WHERE vector_id = ?)"),
        has_embedding_(db, "SELECT EXISTS (SELECT 1 FROM embeddings WHERE model_id = ? AND vector_id = ?)"),
        read_embedding_(db, "SELECT vector FROM embeddings WHERE model_id = ? AND vector_id = ?") {}

  void delete_path(const std::string& path) {
    touch_content_of(path);
    start(delete_file_);
    delete_file_.bind(1, path);
    delete_file_.exec();
  }

  void record_failed(const FailedFile& failed) {
    touch_content_of(failed.path);
    put_file(failed.path, failed.signature, nullptr, failed.reason);
  }

  // Returns false, and records the file as failed, if its content's id is
  // taken by another content.
  bool record_indexed(const IndexedFile& file, const std::vector<float>& embedding) {
    const VectorId id = vector_id_for(file.hash);
    const std::string hash = file.hash.hex();
    start(hash_of_content_);
    hash_of_content_.bind(1, id);
    const bool known = hash_of_content_.executeStep();
    if (known && hash_of_content_.getColumn(0).getString() != hash) {
      refuse(file, id, hash_of_content_.getColumn(0).getString());
      return false;
    }
    touch(id);
    touch_content_of(file.path);
    if (!known) {
      start(insert_content_);
      insert_content_.bind(1, id);
      insert_content_.bind(2, hash);
      insert_content_.bind(3, static_cast<int64_t>(file.signature.size));
      insert_content_.exec();
    }
    if (!embedding.empty()) {
      // An embedding is a function of (content, model): one already there is kept.
      start(insert_embedding_);
      insert_embedding_.bind(1, model_.id);
      insert_embedding_.bind(2, id);
      bind_vector(insert_embedding_, 3, embedding);
      insert_embedding_.exec();
    }
    put_file(file.path, file.signature, &id, "");
    return true;
  }

  // Compares every touched content with its state before the commit.
  void finish(CommitResult& result) {
    for (const auto& [id, before] : touched_) {
      const bool has_path_now = has_path(id);
      if (before.had_path && !has_path_now) result.orphaned.push_back(id);
      if (!before.was_live && has_path_now && has_embedding(id)) {
        LiveVector live{id, {}};
        start(read_embedding_);
        read_embedding_.bind(1, model_.id);
        read_embedding_.bind(2, id);
        read_embedding_.executeStep();
        read_vector(read_embedding_.getColumn(0), model_.dim, live.vector, file_);
        result.became_live.push_back(std::move(live));
      }
    }
  }

  std::vector<FailedFile> refused;

 private:
  struct Before {
    bool had_path = false;
    bool was_live = false;
  };

  static void start(SQLite::Statement& statement) { statement.reset(); }

  // Records a content's state the first time the commit touches it, before
  // anything about it changes.
  void touch(VectorId id) {
    if (touched_.count(id)) return;
    Before before;
    before.had_path = has_path(id);
    before.was_live = before.had_path && has_embedding(id);
    touched_.emplace(id, before);
  }

  void touch_content_of(const std::string& path) {
    start(content_of_path_);
    content_of_path_.bind(1, path);
    if (content_of_path_.executeStep() && !content_of_path_.getColumn(0).isNull()) {
      touch(content_of_path_.getColumn(0).getInt64());
    }
  }

  bool has_path(VectorId id) {
    start(has_path_);
    has_path_.bind(1, id);
    has_path_.executeStep();
    return has_path_.getColumn(0).getInt() != 0;
  }

  bool has_embedding(VectorId id) {
    start(has_embedding_);
    has_embedding_.bind(1, model_.id);
    has_embedding_.bind(2, id);
    has_embedding_.executeStep();
    return has_embedding_.getColumn(0).getInt() != 0;
  }

  // `id` set: an ok file of that content; null: a failed file with `error`.
  void put_file(const std::string& path, const StatSignature& signature, const VectorId* id, const std::string& error) {
    start(put_file_);
    put_file_.bind(1, path);
    bind_signature(put_file_, 2, signature);
    put_file_.bind(6, id ? "ok" : "failed");
    if (id) {
      put_file_.bind(7, *id);
      put_file_.bind(8);  // NULL
    } else {
      put_file_.bind(7);  // NULL
      put_file_.bind(8, error);
    }
    put_file_.exec();
  }

  void refuse(const IndexedFile& file, VectorId id, const std::string& known_hash) {
    FailedFile failed{file.path, file.signature,
                      "its content " + file.hash.hex() + " has id " + std::to_string(id) +
                          ", which content " + known_hash +
                          " already has (the two hashes collide in 63 bits); the file cannot be indexed"};
    spdlog::error("catalogue {}: refused '{}': {}", file_.string(), file.path, failed.reason);
    record_failed(failed);
    refused.push_back(std::move(failed));
  }

  const CatalogModel& model_;
  const std::filesystem::path& file_;
  SQLite::Statement content_of_path_, hash_of_content_, insert_content_, insert_embedding_, put_file_, delete_file_,
      has_path_, has_embedding_, read_embedding_;
  std::map<VectorId, Before> touched_;  // ordered: the result lists come out sorted by id
};

}  // namespace

CommitResult SqliteCatalog::commit(const Batch& batch, const CatalogModel& model_in,
                                  const std::vector<std::vector<float>>& embeddings) {
  require_writable("commit");
  const CatalogModel* model = &model_in;
  return guarded("commit", [&] {
    // IMMEDIATE: take the write lock now, not half-way through.
    SQLite::Transaction transaction(db_, SQLite::TransactionBehavior::IMMEDIATE);
    CommitResult result;
    result.model = model->id;
    {
      BatchWriter writer(db_, *model, file_);
      for (const std::string& path : batch.deleted) writer.delete_path(path);
      for (const FailedFile& failed : batch.failed) writer.record_failed(failed);
      for (size_t i = 0; i < batch.indexed.size(); ++i) writer.record_indexed(batch.indexed[i], embeddings[i]);
      writer.finish(result);
      result.refused = std::move(writer.refused);
    }  // its statements are finalised before the commit
    db_.exec("UPDATE catalog SET generation = generation + 1");
    result.generation = read_generation();
    transaction.commit();
    return result;
  });
}

}  // namespace imgsearchd
