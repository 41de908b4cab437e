// SqliteCatalog::dump and load: the bulk copy of `store migrate`.
#include <string>

#include "store/catalog/catalog_sqlite.h"
#include "store/core/errors.h"

namespace imgsearchd {

CatalogRows SqliteCatalog::dump() {
  return guarded("reading the whole catalogue", [&] {
    CatalogRows rows;
    // One read transaction: one consistent snapshot.
    SQLite::Transaction snapshot(db_, SQLite::TransactionBehavior::DEFERRED);
    rows.generation = read_generation();
    rows.models = models();
    SQLite::Statement contents(db_, "SELECT hash, size FROM contents ORDER BY vector_id");
    while (contents.executeStep()) {
      rows.contents.push_back({parse_hash(contents.getColumn(0).getString(), file_),
                               static_cast<uint64_t>(contents.getColumn(1).getInt64())});
    }
    for (const CatalogModel& model : rows.models) {
      SQLite::Statement embeddings(db_,
                                   "SELECT vector_id, vector FROM embeddings WHERE model_id = ? ORDER BY vector_id");
      embeddings.bind(1, model.id);
      while (embeddings.executeStep()) {
        CatalogRows::Embedding embedding{model.id, embeddings.getColumn(0).getInt64(), {}};
        read_vector(embeddings.getColumn(1), model.dim, embedding.vector, file_);
        rows.embeddings.push_back(std::move(embedding));
      }
    }
    SQLite::Statement paths(db_, "SELECT path FROM files ORDER BY path");
    std::vector<std::string> all;
    while (paths.executeStep()) all.push_back(paths.getColumn(0).getString());
    for (const std::string& path : all) rows.files.push_back(*file(path));
    snapshot.commit();
    return rows;
  });
}

void SqliteCatalog::load(const CatalogRows& rows) {
  require_writable("load");
  guarded("copying rows into the catalogue", [&] {
    SQLite::Transaction transaction(db_, SQLite::TransactionBehavior::IMMEDIATE);
    const int64_t present = db_.execAndGet("SELECT (SELECT count(*) FROM models) + (SELECT count(*) FROM contents) + "
                                           "(SELECT count(*) FROM files)")
                                .getInt64();
    if (present != 0) {
      throw InvalidInput(file_.string() + ": the target catalogue is not empty (" + std::to_string(present) +
                         " models, contents and files); move it aside first");
    }
    SQLite::Statement model(db_, "INSERT INTO models (model_id, name, fingerprint, dim) VALUES (?, ?, ?, ?)");
    for (const CatalogModel& m : rows.models) {
      model.reset();
      model.bind(1, m.id);
      model.bind(2, m.name);
      model.bind(3, m.fingerprint);
      model.bind(4, m.dim);
      model.exec();
    }
    SQLite::Statement content(db_, "INSERT INTO contents (vector_id, hash, size) VALUES (?, ?, ?)");
    for (const CatalogRows::Content& c : rows.contents) {
      content.reset();
      content.bind(1, vector_id_for(c.hash));
      content.bind(2, c.hash.hex());
      content.bind(3, static_cast<int64_t>(c.size));
      content.exec();
    }
    SQLite::Statement embedding(db_, "INSERT INTO embeddings (model_id, vector_id, vector) VALUES (?, ?, ?)");
    for (const CatalogRows::Embedding& e : rows.embeddings) {
      embedding.reset();
      embedding.bind(1, e.model);
      embedding.bind(2, e.id);
      bind_vector(embedding, 3, e.vector);
      embedding.exec();
    }
    SQLite::Statement put_file(db_,
                               "INSERT INTO files (path, device, inode, size, mtime_ns, state, vector_id, error) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (const FileRecord& f : rows.files) {
      put_file.reset();
      put_file.bind(1, f.path);
      bind_signature(put_file, 2, f.signature);
      put_file.bind(6, f.state == FileState::ok ? "ok" : "failed");
      if (f.vector_id) {
        put_file.bind(7, *f.vector_id);
        put_file.bind(8);
      } else {
        put_file.bind(7);
        put_file.bind(8, f.error);
      }
      put_file.exec();
    }
    // A new generation: index files made from another catalogue are stale.
    db_.exec("UPDATE catalog SET generation = max(generation, " + std::to_string(rows.generation) + ") + 1");
    transaction.commit();
  });
  model_cache_.clear();
}

}  // namespace imgsearchd
