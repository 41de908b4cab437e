// PgCatalog::dump and load: the bulk copy of `store migrate`.
#include <algorithm>
#include <string>

#include "store/core/errors.h"
#include "store/postgresql/pg_catalog.h"
#include "store/postgresql/pg_listener.h"

namespace imgsearchd {

CatalogRows PgCatalog::dump() {
  return guarded("reading the whole catalogue", [&] {
    CatalogRows rows;
    db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    rows.generation = read_generation();
    const pg::Result models = db_.exec("SELECT model_id, name, fingerprint, dim FROM models ORDER BY model_id");
    for (int i = 0; i < models.rows(); ++i) {
      rows.models.push_back(
          {models.integer(i, 0), models.text(i, 1), models.text(i, 2), static_cast<int>(models.integer(i, 3))});
    }
    const pg::Result contents = db_.exec("SELECT hash, size FROM contents ORDER BY vector_id");
    for (int i = 0; i < contents.rows(); ++i) {
      rows.contents.push_back({pg_parse_hash(contents.text(i, 0), name_), static_cast<uint64_t>(contents.integer(i, 1))});
    }
    for (const CatalogModel& model : rows.models) {
      const pg::Result embeddings = db_.exec(
          "SELECT vector_id, vector FROM embeddings WHERE model_id = $1 ORDER BY vector_id", {pg::param(model.id)});
      for (int i = 0; i < embeddings.rows(); ++i) {
        CatalogRows::Embedding embedding{model.id, embeddings.integer(i, 0), {}};
        pg_read_vector(embeddings, i, 1, model.dim, embedding.vector, name_);
        rows.embeddings.push_back(std::move(embedding));
      }
    }
    const pg::Result files = db_.exec(
        "SELECT f.path, f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id, f.error, c.hash "
        "FROM files f LEFT JOIN contents c ON c.vector_id = f.vector_id WHERE f.source = $1 ORDER BY f.path",
        {pg::param(location_.source)});
    for (int i = 0; i < files.rows(); ++i) rows.files.push_back(read_file_record(files, i, 0));
    db_.exec("COMMIT");
    return rows;
  });
}

void PgCatalog::load(const CatalogRows& rows) {
  require_writable("load");
  guarded("copying rows into the catalogue", [&] {
    db_.exec("BEGIN");
    db_.exec("SELECT generation FROM catalog FOR UPDATE");
    const int64_t present =
        db_.exec("SELECT (SELECT count(*) FROM models) + (SELECT count(*) FROM contents) + "
                 "(SELECT count(*) FROM files)")
            .integer(0, 0);
    if (present != 0) {
      throw InvalidInput(name_.string() + ": the target catalogue is not empty (" + std::to_string(present) +
                         " models, contents and files); use an empty database");
    }
    ModelId highest = 0;
    for (const CatalogModel& m : rows.models) {
      db_.exec("INSERT INTO models (model_id, name, fingerprint, dim) VALUES ($1, $2, $3, $4)",
               {pg::param(m.id), pg::param(m.name), pg::param(m.fingerprint), pg::param(m.dim)});
      highest = std::max(highest, m.id);
    }
    // New models are numbered after the copied ones.
    if (highest > 0) {
      db_.exec("SELECT setval(pg_get_serial_sequence('models', 'model_id'), $1)", {pg::param(highest)});
    }
    for (const CatalogRows::Content& c : rows.contents) {
      db_.exec("INSERT INTO contents (vector_id, hash, size) VALUES ($1, $2, $3)",
               {pg::param(vector_id_for(c.hash)), pg::param(c.hash.hex()), pg::param(c.size)});
    }
    for (const CatalogRows::Embedding& e : rows.embeddings) {
      db_.exec("INSERT INTO embeddings (model_id, vector_id, vector) VALUES ($1, $2, $3)",
               {pg::param(e.model), pg::param(e.id), vector_param(e.vector)});
    }
    for (const FileRecord& f : rows.files) {
      std::vector<pg::Param> params{pg::param(location_.source), pg::param(f.path)};
      for (pg::Param& p : signature_params(f.signature)) params.push_back(std::move(p));
      params.push_back(pg::param(f.state == FileState::ok ? "ok" : "failed"));
      params.push_back(f.vector_id ? pg::param(*f.vector_id) : pg::Param::null());
      params.push_back(f.vector_id ? pg::Param::null() : pg::param(f.error));
      db_.exec(
          "INSERT INTO files (source, path, device, inode, size, mtime_ns, state, vector_id, error) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
          params);
    }
    // A new generation: index files made from another catalogue are stale.
    const pg::Result generation = db_.exec(
        "UPDATE catalog SET generation = greatest(generation, $1) + 1 RETURNING generation", {pg::param(rows.generation)});
    // The change log does not describe what was loaded: a replica of this
    // catalogue from before rebuilds rather than catch up on nothing.
    db_.exec("UPDATE change_log SET pruned_through = $1", {pg::param(generation.integer(0, 0))});
    db_.exec("SELECT pg_notify($1, $2)", {pg::param(kCommitChannel), pg::param(generation.integer(0, 0))});
    db_.exec("COMMIT");
  });
  model_cache_.clear();
}

}  // namespace imgsearchd
