// The PostgreSQL catalogue: opening, models and read queries.
#include "store/postgresql/pg_catalog.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "store/core/errors.h"
#include "store/postgresql/pg_listener.h"
#include "store/postgresql/postgres_catalog.h"

namespace imgsearchd {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "embeddings are stored as little-endian float32");

FileState parse_state(const std::string& text, const std::filesystem::path& name) {
  if (text == "ok") return FileState::ok;
  if (text == "failed") return FileState::failed;
  throw StoreError(name, "a file row has state '" + text + "', expected 'ok' or 'failed'");
}

// The half-open range [root/, root0) of paths strictly under `root` (paths
// are COLLATE "C": bytewise, and '0' follows '/').
std::pair<std::string, std::string> range_under(std::string root) {
  while (!root.empty() && root.back() == '/') root.pop_back();
  return {root + "/", root + "0"};
}

// "WHERE f.source = $1" and, for a root, the range as $n and $n+1.
std::string source_and_root(const std::string& root, std::vector<pg::Param>& params) {
  std::string where = " WHERE f.source = $" + std::to_string(params.size());
  if (root.empty()) return where;
  const auto [low, high] = range_under(root);
  params.push_back(pg::param(low));
  params.push_back(pg::param(high));
  const std::string n = std::to_string(params.size() - 1);
  return where + " AND f.path >= $" + n + " AND f.path < $" + std::to_string(params.size());
}

// Reads the live embeddings in chunks through a cursor, so a large index
// never sits in memory twice.
constexpr int kFetchRows = 2000;

}  // namespace

// ---- Row conversions ----

ContentHash pg_parse_hash(const std::string& hex, const std::filesystem::path& name) {
  const std::optional<ContentHash> hash = ContentHash::from_hex(hex);
  if (!hash) throw StoreError(name, "a content row has hash '" + hex + "', expected 32 hex digits");
  return *hash;
}

// bigint is signed 64-bit; unsigned fields round-trip bit for bit.
std::vector<pg::Param> signature_params(const StatSignature& signature) {
  return {pg::param(static_cast<int64_t>(signature.device)), pg::param(static_cast<int64_t>(signature.inode)),
          pg::param(static_cast<int64_t>(signature.size)), pg::param(signature.mtime_ns)};
}

StatSignature pg_read_signature(const pg::Result& result, int row, int first_column) {
  StatSignature signature;
  signature.device = static_cast<uint64_t>(result.integer(row, first_column));
  signature.inode = static_cast<uint64_t>(result.integer(row, first_column + 1));
  signature.size = static_cast<uint64_t>(result.integer(row, first_column + 2));
  signature.mtime_ns = result.integer(row, first_column + 3);
  return signature;
}

void pg_read_vector(const pg::Result& result, int row, int column, int dim, std::vector<float>& out,
                    const std::filesystem::path& name) {
  const size_t bytes = result.size(row, column);
  if (bytes != static_cast<size_t>(dim) * sizeof(float)) {
    throw StoreError(name, "an embedding has " + std::to_string(bytes) + " bytes, expected " +
                               std::to_string(dim * sizeof(float)) + " (" + std::to_string(dim) + " floats)");
  }
  out.resize(static_cast<size_t>(dim));
  std::memcpy(out.data(), result.bytes(row, column), bytes);
}

pg::Param vector_param(const std::vector<float>& vector) {
  return pg::Param::bytes(vector.data(), vector.size() * sizeof(float));
}

// ---- Opening ----

void check_postgresql_dsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string reason = error ? error : "libpq cannot parse it";
    PQfreemem(error);
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    throw InvalidInput("store.postgresql.dsn is not a libpq connection string: " + reason);
  }
  bool has_password = false;
  for (const PQconninfoOption* option = options; option->keyword; ++option) {
    if (std::strcmp(option->keyword, "password") == 0 && option->val && *option->val) has_password = true;
  }
  PQconninfoFree(options);
  if (has_password) {
    throw InvalidInput(
        "store.postgresql.dsn holds a password; remove it and put it in the file named by "
        "store.postgresql.password_file (or PGPASSFILE, ~/.pgpass), in libpq's passfile format");
  }
}

int PostgresCatalog::latest_schema_version() { return pg_schema::latest_version(); }

std::unique_ptr<CatalogBackend> PostgresCatalog::open(const CatalogLocation& location, bool read_only) {
  check_postgresql_dsn(location.dsn);
  if (location.source.empty()) throw InvalidInput("store.postgresql.source is empty: each service needs its own");
  if (location.source.find(':') != std::string::npos) {
    throw InvalidInput("store.postgresql.source '" + location.source +
                       "' holds a ':'; other services show this one's paths as <source>:<path>, so a source "
                       "cannot contain one");
  }
  auto catalog = std::make_unique<PgCatalog>(location, read_only);
  try {
    if (read_only) {
      pg_schema::require_latest(catalog->connection(), catalog->file());
    } else {
      pg_schema::migrate(catalog->connection(), catalog->file());
    }
  } catch (const pg::PgError& e) {
    throw StoreError(catalog->file(), std::string("cannot open the catalogue: ") + e.what());
  }
  return catalog;
}

PgCatalog::PgCatalog(const CatalogLocation& location, bool read_only) try
    : location_(location),
      name_("postgresql:" + location.dsn),
      read_only_(read_only),
      db_(location.dsn, location.password_file.string()) {
} catch (const pg::PgError& e) {
  throw StoreError("postgresql:" + location.dsn, std::string("cannot connect to the catalogue: ") + e.what());
}

std::unique_ptr<CatalogBackend> PgCatalog::open_reader() const { return PostgresCatalog::open(location_, true); }

void PgCatalog::throw_store_error(const char* operation, const pg::PgError& e) const {
  throw StoreError(name_, std::string(operation) + " failed: " + e.what());
}

// After a failed statement the transaction (if any) is aborted; end it so
// the connection is usable again. A broken connection has none to end.
void PgCatalog::rollback_quietly() {
  if (db_.broken() || !db_.in_transaction()) return;
  try {
    db_.exec("ROLLBACK");
  } catch (const pg::PgError&) {
  }
}

void PgCatalog::require_writable(const char* operation) const {
  if (read_only_) throw StoreError(name_, std::string(operation) + ": this connection was opened read-only");
}

std::optional<CatalogModel> PgCatalog::model_info(ModelId id) {
  if (auto found = model_cache_.find(id); found != model_cache_.end()) return found->second;
  const pg::Result r = db_.exec("SELECT name, fingerprint, dim FROM models WHERE model_id = $1", {pg::param(id)});
  if (r.rows() == 0) return std::nullopt;
  CatalogModel info{id, r.text(0, 0), r.text(0, 1), static_cast<int>(r.integer(0, 2))};
  model_cache_.emplace(id, info);
  return info;
}

uint64_t PgCatalog::read_generation() {
  return static_cast<uint64_t>(db_.exec("SELECT generation FROM catalog").integer(0, 0));
}

std::string PgCatalog::shown_path(const std::string& source, const std::string& path) const {
  return source == location_.source ? path : foreign_path_text(source, path);
}

std::string PgCatalog::catalog_id() {
  return guarded("reading the catalogue id", [&] { return db_.exec("SELECT catalog_id FROM catalog").text(0, 0); });
}

uint64_t PgCatalog::generation() {
  return guarded("reading the generation", [&] { return read_generation(); });
}

// ---- Models ----

ModelId PgCatalog::model(const std::string& name, const std::string& fingerprint, int dim) {
  return guarded("registering a model", [&]() -> ModelId {
    const std::string select = "SELECT model_id, dim FROM models WHERE name = $1 AND fingerprint = $2";
    pg::Result found = db_.exec(select, {pg::param(name), pg::param(fingerprint)});
    if (found.rows() == 0) {
      require_writable("registering a model");
      // Another service may register it at the same moment: one row wins.
      db_.exec("INSERT INTO models (name, fingerprint, dim) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
               {pg::param(name), pg::param(fingerprint), pg::param(dim)});
      found = db_.exec(select, {pg::param(name), pg::param(fingerprint)});
    }
    const int known_dim = static_cast<int>(found.integer(0, 1));
    if (known_dim != dim) {
      throw InvalidInput("model '" + name + "' (fingerprint '" + fingerprint + "') is recorded with dimension " +
                         std::to_string(known_dim) + ", not " + std::to_string(dim));
    }
    return found.integer(0, 0);
  });
}

std::optional<CatalogModel> PgCatalog::find_model(ModelId id) {
  return guarded("reading a model", [&] { return model_info(id); });
}

std::vector<CatalogModel> PgCatalog::models() {
  return guarded("listing models", [&] {
    std::vector<CatalogModel> models;
    const pg::Result r = db_.exec("SELECT model_id, name, fingerprint, dim FROM models ORDER BY model_id");
    for (int i = 0; i < r.rows(); ++i) {
      models.push_back({r.integer(i, 0), r.text(i, 1), r.text(i, 2), static_cast<int>(r.integer(i, 3))});
    }
    return models;
  });
}

// ---- What the pipeline reads before it works: this source's files ----

std::unordered_map<std::string, KnownFile> PgCatalog::known_files(ModelId model, const std::string& root) {
  return guarded("listing known files", [&] {
    std::vector<pg::Param> params{pg::param(model), pg::param(location_.source)};
    const std::string sql =
        "SELECT f.path, f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id, e.vector_id IS NOT NULL "
        "FROM files f LEFT JOIN embeddings e ON e.model_id = $1 AND e.vector_id = f.vector_id" +
        source_and_root(root, params);
    const pg::Result r = db_.exec(sql, params);
    std::unordered_map<std::string, KnownFile> files;
    files.reserve(static_cast<size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) {
      KnownFile known;
      known.signature = pg_read_signature(r, i, 1);
      known.state = parse_state(r.text(i, 5), name_);
      if (!r.is_null(i, 6)) {
        known.vector_id = r.integer(i, 6);
        known.has_embedding = r.boolean(i, 7);
      }
      files.emplace(r.text(i, 0), known);
    }
    return files;
  });
}

std::vector<std::string> PgCatalog::paths_under(const std::string& root) {
  return guarded("listing paths", [&] {
    std::vector<pg::Param> params{pg::param(location_.source)};
    const pg::Result r = db_.exec("SELECT f.path FROM files f" + source_and_root(root, params) + " ORDER BY f.path",
                                  params);
    std::vector<std::string> paths;
    for (int i = 0; i < r.rows(); ++i) paths.push_back(r.text(i, 0));
    return paths;
  });
}

std::optional<KnownFile> PgCatalog::known_file(ModelId model, const std::string& path) {
  return guarded("looking up a known file", [&]() -> std::optional<KnownFile> {
    const pg::Result r = db_.exec(
        "SELECT f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id, EXISTS (SELECT 1 FROM embeddings e "
        "WHERE e.model_id = $1 AND e.vector_id = f.vector_id) FROM files f WHERE f.source = $2 AND f.path = $3",
        {pg::param(model), pg::param(location_.source), pg::param(path)});
    if (r.rows() == 0) return std::nullopt;
    KnownFile known;
    known.signature = pg_read_signature(r, 0, 0);
    known.state = parse_state(r.text(0, 4), name_);
    if (!r.is_null(0, 5)) {
      known.vector_id = r.integer(0, 5);
      known.has_embedding = r.boolean(0, 6);
    }
    return known;
  });
}

std::optional<FileRecord> PgCatalog::file_with_signature(const StatSignature& signature) {
  const std::optional<std::string> path =
      guarded("looking up a file by its signature", [&]() -> std::optional<std::string> {
        std::vector<pg::Param> params{pg::param(location_.source)};
        for (pg::Param& p : signature_params(signature)) params.push_back(std::move(p));
        const pg::Result r = db_.exec(
            "SELECT path FROM files WHERE source = $1 AND device = $2 AND inode = $3 AND size = $4 AND "
            "mtime_ns = $5 ORDER BY state = 'ok' DESC, path LIMIT 1",
            params);
        if (r.rows() == 0) return std::nullopt;
        return r.text(0, 0);
      });
  if (!path) return std::nullopt;
  return file(*path);
}

std::optional<ContentStatus> PgCatalog::find_content(const ContentHash& hash, ModelId model) {
  return guarded("looking up a content", [&]() -> std::optional<ContentStatus> {
    const pg::Result r = db_.exec(
        "SELECT c.vector_id, EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = $1 AND "
        "e.vector_id = c.vector_id) FROM contents c WHERE c.hash = $2",
        {pg::param(model), pg::param(hash.hex())});
    if (r.rows() == 0) return std::nullopt;
    return ContentStatus{r.integer(0, 0), r.boolean(0, 1)};
  });
}

uint64_t PgCatalog::purge_orphaned_contents() {
  require_writable("purging orphaned contents");
  return guarded("purging orphaned contents", [&] {
    db_.exec("BEGIN");
    // The commit lock: no commit can attach a path to a content being removed.
    db_.exec("SELECT generation FROM catalog FOR UPDATE");
    // Their embeddings go with them (ON DELETE CASCADE).
    const pg::Result r = db_.exec(
        "WITH gone AS (DELETE FROM contents c WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.vector_id = "
        "c.vector_id) RETURNING 1) SELECT count(*) FROM gone");
    db_.exec("COMMIT");
    return static_cast<uint64_t>(r.integer(0, 0));
  });
}

// ---- Queries ----

std::vector<std::string> PgCatalog::paths_of(VectorId id) {
  return guarded("listing the paths of a content", [&] {
    const pg::Result r = db_.exec("SELECT source, path FROM files WHERE vector_id = $1", {pg::param(id)});
    std::vector<std::string> paths;
    for (int i = 0; i < r.rows(); ++i) paths.push_back(shown_path(r.text(i, 0), r.text(i, 1)));
    std::sort(paths.begin(), paths.end());
    return paths;
  });
}

std::optional<VectorId> PgCatalog::vector_id_of(const std::string& path) {
  return guarded("looking up a path", [&]() -> std::optional<VectorId> {
    const pg::Result r = db_.exec("SELECT vector_id FROM files WHERE source = $1 AND path = $2",
                                  {pg::param(location_.source), pg::param(path)});
    if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
    return r.integer(0, 0);
  });
}

FileRecord PgCatalog::read_file_record(const pg::Result& r, int row, int c) {
  FileRecord record;
  record.path = r.text(row, c);
  record.signature = pg_read_signature(r, row, c + 1);
  record.state = parse_state(r.text(row, c + 5), name_);
  if (!r.is_null(row, c + 6)) record.vector_id = r.integer(row, c + 6);
  if (!r.is_null(row, c + 7)) record.error = r.text(row, c + 7);
  if (!r.is_null(row, c + 8)) record.hash = pg_parse_hash(r.text(row, c + 8), name_);
  return record;
}

// The columns read_file_record reads, from files f LEFT JOIN contents c.
static const char* const kFileColumns =
    "f.path, f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id, f.error, c.hash "
    "FROM files f LEFT JOIN contents c ON c.vector_id = f.vector_id";

std::optional<FileRecord> PgCatalog::file(const std::string& path) {
  return guarded("looking up a file", [&]() -> std::optional<FileRecord> {
    const pg::Result r = db_.exec(std::string("SELECT ") + kFileColumns + " WHERE f.source = $1 AND f.path = $2",
                                  {pg::param(location_.source), pg::param(path)});
    if (r.rows() == 0) return std::nullopt;
    return read_file_record(r, 0, 0);
  });
}

std::optional<std::vector<float>> PgCatalog::embedding(VectorId id, ModelId model) {
  return guarded("reading an embedding", [&]() -> std::optional<std::vector<float>> {
    const std::optional<CatalogModel> info = model_info(model);
    if (!info) return std::nullopt;
    const pg::Result r = db_.exec("SELECT vector FROM embeddings WHERE model_id = $1 AND vector_id = $2",
                                  {pg::param(model), pg::param(id)});
    if (r.rows() == 0) return std::nullopt;
    std::vector<float> vector;
    pg_read_vector(r, 0, 0, info->dim, vector, name_);
    return vector;
  });
}

// Live: an ok file of any source points at the content (failed files have
// no vector_id) and it has an embedding for the model.
static const char* const kLiveEmbeddings =
    "FROM embeddings e WHERE e.model_id = $1 AND EXISTS (SELECT 1 FROM files f WHERE f.vector_id = e.vector_id)";

uint64_t PgCatalog::for_each_live_embedding(ModelId model,
                                            const std::function<void(VectorId, const std::vector<float>&)>& visit) {
  return guarded("reading the live embeddings", [&] {
    const std::optional<CatalogModel> info = model_info(model);
    if (!info) throw InvalidInput("unknown model id " + std::to_string(model));
    // One snapshot: the generation and the rows agree.
    db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const uint64_t generation = read_generation();
    db_.exec(std::string("DECLARE live BINARY NO SCROLL CURSOR FOR SELECT e.vector_id, e.vector ") + kLiveEmbeddings +
                 " ORDER BY e.vector_id",
             {pg::param(model)});
    std::vector<float> vector;
    for (;;) {
      const pg::Result r = db_.exec("FETCH " + std::to_string(kFetchRows) + " FROM live");
      for (int i = 0; i < r.rows(); ++i) {
        pg_read_vector(r, i, 1, info->dim, vector, name_);
        visit(r.integer(i, 0), vector);
      }
      if (r.rows() < kFetchRows) break;
    }
    db_.exec("COMMIT");
    return generation;
  });
}

uint64_t PgCatalog::live_count(ModelId model) {
  return guarded("counting live embeddings", [&] {
    return static_cast<uint64_t>(
        db_.exec(std::string("SELECT count(*) ") + kLiveEmbeddings, {pg::param(model)}).integer(0, 0));
  });
}

CatalogCounts PgCatalog::counts() {
  return guarded("counting", [&] {
    CatalogCounts counts;
    db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const pg::Result by_state = db_.exec("SELECT state, count(*) FROM files GROUP BY state");
    for (int i = 0; i < by_state.rows(); ++i) {
      const auto n = static_cast<uint64_t>(by_state.integer(i, 1));
      (parse_state(by_state.text(i, 0), name_) == FileState::ok ? counts.files_ok : counts.files_failed) = n;
    }
    counts.contents = static_cast<uint64_t>(db_.exec("SELECT count(*) FROM contents").integer(0, 0));
    counts.orphaned_contents = static_cast<uint64_t>(
        db_.exec("SELECT count(*) FROM contents c WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.vector_id = "
                 "c.vector_id)")
            .integer(0, 0));
    const pg::Result embeddings = db_.exec("SELECT model_id, count(*) FROM embeddings GROUP BY model_id");
    for (int i = 0; i < embeddings.rows(); ++i) {
      counts.embeddings[embeddings.integer(i, 0)] = static_cast<uint64_t>(embeddings.integer(i, 1));
    }
    const pg::Result live = db_.exec(
        "SELECT e.model_id, count(*) FROM embeddings e WHERE EXISTS (SELECT 1 FROM files f WHERE f.vector_id = "
        "e.vector_id) GROUP BY e.model_id");
    for (int i = 0; i < live.rows(); ++i) counts.live[live.integer(i, 0)] = static_cast<uint64_t>(live.integer(i, 1));
    db_.exec("COMMIT");
    return counts;
  });
}

std::optional<TouchedContents> PgCatalog::touched_since(uint64_t generation, ModelId model) {
  return guarded("reading the change log", [&]() -> std::optional<TouchedContents> {
    const std::optional<CatalogModel> info = model_info(model);
    if (!info) throw InvalidInput("unknown model id " + std::to_string(model));
    TouchedContents touched;
    // One snapshot: the generation, the log's reach and the rows agree.
    db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!change_log_reaches(generation)) {
      db_.exec("COMMIT");
      return std::nullopt;
    }
    touched.generation = read_generation();
    const pg::Result r = db_.exec(
        "WITH touched AS (SELECT DISTINCT vector_id FROM changes WHERE generation > $1) "
        "SELECT t.vector_id, e.vector FROM touched t LEFT JOIN embeddings e ON e.model_id = $2 AND "
        "e.vector_id = t.vector_id AND EXISTS (SELECT 1 FROM files f WHERE f.vector_id = t.vector_id) "
        "ORDER BY t.vector_id",
        {pg::param(generation), pg::param(model)});
    db_.exec("COMMIT");
    for (int i = 0; i < r.rows(); ++i) {
      if (r.is_null(i, 1)) {
        touched.not_live.push_back(r.integer(i, 0));
      } else {
        LiveVector live{r.integer(i, 0), {}};
        pg_read_vector(r, i, 1, info->dim, live.vector, name_);
        touched.live.push_back(std::move(live));
      }
    }
    return touched;
  });
}

bool PgCatalog::change_log_reaches(uint64_t generation) {
  const auto pruned_through = static_cast<uint64_t>(db_.exec("SELECT pruned_through FROM change_log").integer(0, 0));
  return generation >= pruned_through;
}

std::optional<uint64_t> PgCatalog::touched_count_since(uint64_t generation) {
  return guarded("reading the change log", [&]() -> std::optional<uint64_t> {
    db_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    std::optional<uint64_t> count;
    if (change_log_reaches(generation)) {
      count = static_cast<uint64_t>(
          db_.exec("SELECT count(DISTINCT vector_id) FROM changes WHERE generation > $1", {pg::param(generation)})
              .integer(0, 0));
    }
    db_.exec("COMMIT");
    return count;
  });
}

// The rule (README "Several machines"): the log keeps the newest entries,
// at most half as many as there are live contents, whole commits at a
// time. A replica further behind is more than half its vectors behind, and
// Catalog::catch_up rebuilds such a replica anyway (a rebuild reads fewer
// vectors than that catch-up would), so nothing a replica would use is lost.
// Runs beside commits (its own transaction, not under the commit lock); a
// second pruner at the same moment skips.
uint64_t PgCatalog::prune_change_log() {
  require_writable("pruning the change log");
  return guarded("pruning the change log", [&]() -> uint64_t {
    db_.exec("BEGIN");
    // "prune" in ASCII: one pruner at a time, the others skip.
    if (!db_.exec("SELECT pg_try_advisory_xact_lock(482956635749)").boolean(0, 0)) {
      db_.exec("COMMIT");
      return 0;
    }
    const auto live = static_cast<uint64_t>(
        db_.exec("SELECT count(*) FROM contents c WHERE EXISTS (SELECT 1 FROM files f WHERE f.vector_id = "
                 "c.vector_id)")
            .integer(0, 0));
    const uint64_t keep = live / 2;
    // The newest generation with an entry beyond the `keep` newest ones:
    // it and everything older go.
    const pg::Result cut = db_.exec("SELECT generation FROM changes ORDER BY generation DESC OFFSET $1 LIMIT 1",
                                    {pg::param(keep)});
    uint64_t deleted = 0;
    if (cut.rows() > 0) {
      const auto through = static_cast<uint64_t>(cut.integer(0, 0));
      deleted = static_cast<uint64_t>(
          db_.exec("WITH gone AS (DELETE FROM changes WHERE generation <= $1 RETURNING 1) SELECT count(*) FROM gone",
                   {pg::param(through)})
              .integer(0, 0));
      db_.exec("UPDATE change_log SET pruned_through = greatest(pruned_through, $1)", {pg::param(through)});
    }
    db_.exec("COMMIT");
    return deleted;
  });
}

std::unique_ptr<ChangeListener> PgCatalog::change_listener() const {
  return std::make_unique<PgChangeListener>(location_, name_);
}

std::vector<FailedFile> PgCatalog::failed_files() {
  return guarded("listing failed files", [&] {
    const pg::Result r = db_.exec(
        "SELECT path, device, inode, size, mtime_ns, error FROM files WHERE source = $1 AND state = 'failed' "
        "ORDER BY path",
        {pg::param(location_.source)});
    std::vector<FailedFile> failed;
    for (int i = 0; i < r.rows(); ++i) failed.push_back({r.text(i, 0), pg_read_signature(r, i, 1), r.text(i, 5)});
    return failed;
  });
}

// ---- Where each source's service can be reached ----

void PgCatalog::advertise(const std::string& address) {
  guarded("recording this service's address", [&] {
    require_writable("recording this service's address");
    db_.exec(
        "INSERT INTO sources (source, address, last_seen) VALUES ($1, $2, now()) "
        "ON CONFLICT (source) DO UPDATE SET address = EXCLUDED.address, last_seen = EXCLUDED.last_seen",
        {pg::param(location_.source), address.empty() ? pg::Param::null() : pg::param(address)});
  });
}

std::optional<std::string> PgCatalog::source_address(const std::string& source) {
  return guarded("reading a service's address", [&]() -> std::optional<std::string> {
    const pg::Result r = db_.exec("SELECT address FROM sources WHERE source = $1", {pg::param(source)});
    if (r.rows() == 0 || r.is_null(0, 0)) return std::nullopt;
    return r.text(0, 0);
  });
}

}  // namespace imgsearchd
