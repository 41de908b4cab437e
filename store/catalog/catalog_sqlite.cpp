// The catalogue: opening, models and read queries. The batch write is in
// catalog_commit.cpp, the schema in catalog_schema.cpp.
#include "store/catalog/catalog.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "store/catalog/catalog_schema.h"
#include "store/catalog/catalog_sqlite.h"
#include "store/catalog/sleeping_listener.h"
#include "store/core/errors.h"

namespace imgsearchd {
namespace {

FileState parse_state(const std::string& text, const std::filesystem::path& file) {
  if (text == "ok") return FileState::ok;
  if (text == "failed") return FileState::failed;
  throw StoreError(file, "a file row has state '" + text + "', expected 'ok' or 'failed'");
}

// The half-open key range [low, high) of paths strictly under `root`. Paths
// compare bytewise (SQLite's BINARY collation) and '0' follows '/', so the
// range is exactly the paths starting with root + "/".
std::pair<std::string, std::string> range_under(std::string root) {
  while (!root.empty() && root.back() == '/') root.pop_back();
  return {root + "/", root + "0"};
}

// Statements that list files take this shape: all of them, or a range.
std::string with_root_filter(const std::string& select, const std::string& root, const char* path_column) {
  if (root.empty()) return select;
  return select + " WHERE " + path_column + " >= ?1 AND " + path_column + " < ?2";
}

void bind_root(SQLite::Statement& statement, const std::string& root) {
  if (root.empty()) return;
  const auto [low, high] = range_under(root);
  statement.bind(1, low);
  statement.bind(2, high);
}

[[noreturn]] void throw_open_error(const std::filesystem::path& file, const SQLite::Exception& e) {
  std::string message = std::string("cannot open the catalogue: ") + e.what();
  const int code = e.getErrorCode();
  if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
    message += "; the file is not a usable SQLite database: restore it from a backup, or move it aside to "
               "start a new catalogue (every image is then indexed again)";
  }
  throw StoreError(file, message);
}

}  // namespace

// ---- The connection ----

SqliteCatalog::SqliteCatalog(const std::filesystem::path& file, bool read_only, int open_flags)
    : location_(file), file_(file), read_only_(read_only), db_(file.string(), open_flags) {}

void SqliteCatalog::throw_store_error(const char* operation, const SQLite::Exception& e) const {
  throw StoreError(file_, std::string(operation) + " failed: " + e.what());
}

void SqliteCatalog::require_writable(const char* operation) const {
  if (read_only_) throw StoreError(file_, std::string(operation) + ": this connection was opened read-only");
}

std::optional<CatalogModel> SqliteCatalog::model_info(ModelId id) {
  if (auto found = model_cache_.find(id); found != model_cache_.end()) return found->second;
  SQLite::Statement select(db_, "SELECT name, fingerprint, dim FROM models WHERE model_id = ?");
  select.bind(1, id);
  if (!select.executeStep()) return std::nullopt;
  CatalogModel info{id, select.getColumn(0).getString(), select.getColumn(1).getString(), select.getColumn(2).getInt()};
  model_cache_.emplace(id, info);
  return info;
}

uint64_t SqliteCatalog::read_generation() {
  return static_cast<uint64_t>(db_.execAndGet("SELECT generation FROM catalog").getInt64());
}

// ---- Row conversions ----

ContentHash parse_hash(const std::string& hex, const std::filesystem::path& file) {
  const std::optional<ContentHash> hash = ContentHash::from_hex(hex);
  if (!hash) throw StoreError(file, "a content row has hash '" + hex + "', expected 32 hex digits");
  return *hash;
}

// SQLite integers are signed 64-bit; unsigned fields round-trip bit for bit.
void bind_signature(SQLite::Statement& statement, int first_index, const StatSignature& signature) {
  statement.bind(first_index, static_cast<int64_t>(signature.device));
  statement.bind(first_index + 1, static_cast<int64_t>(signature.inode));
  statement.bind(first_index + 2, static_cast<int64_t>(signature.size));
  statement.bind(first_index + 3, signature.mtime_ns);
}

StatSignature read_signature(const SQLite::Statement& statement, int first_column) {
  StatSignature signature;
  signature.device = static_cast<uint64_t>(statement.getColumn(first_column).getInt64());
  signature.inode = static_cast<uint64_t>(statement.getColumn(first_column + 1).getInt64());
  signature.size = static_cast<uint64_t>(statement.getColumn(first_column + 2).getInt64());
  signature.mtime_ns = statement.getColumn(first_column + 3).getInt64();
  return signature;
}

void read_vector(const SQLite::Column& column, int dim, std::vector<float>& out, const std::filesystem::path& file) {
  const size_t bytes = static_cast<size_t>(column.getBytes());
  if (bytes != static_cast<size_t>(dim) * sizeof(float)) {
    throw StoreError(file, "an embedding has " + std::to_string(bytes) + " bytes, expected " +
                               std::to_string(dim * sizeof(float)) + " (" + std::to_string(dim) + " floats)");
  }
  out.resize(static_cast<size_t>(dim));
  std::memcpy(out.data(), column.getBlob(), bytes);
}

void bind_vector(SQLite::Statement& statement, int index, const std::vector<float>& vector) {
  statement.bind(index, vector.data(), static_cast<int>(vector.size() * sizeof(float)));
}

// ---- Opening ----

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "embeddings are stored as little-endian float32");

int sqlite_schema_version() { return catalog_schema::latest_version(); }

std::unique_ptr<CatalogBackend> SqliteCatalog::open(const std::filesystem::path& file) {
  if (file.has_parent_path()) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    if (error) throw StoreError(file, "cannot create the catalogue's folder: " + error.message());
  }
  try {
    auto catalog = std::make_unique<SqliteCatalog>(file, false, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    catalog_schema::configure_connection(catalog->db_, true);
    catalog_schema::migrate(catalog->db_, file);
    return catalog;
  } catch (const SQLite::Exception& e) {
    throw_open_error(file, e);
  }
}

std::unique_ptr<CatalogBackend> SqliteCatalog::open_read_only(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) throw StoreError(file, "the catalogue does not exist");
  try {
    auto catalog = std::make_unique<SqliteCatalog>(file, true, SQLite::OPEN_READONLY);
    catalog_schema::configure_connection(catalog->db_, false);
    catalog_schema::require_latest(catalog->db_, file);
    return catalog;
  } catch (const SQLite::Exception& e) {
    throw_open_error(file, e);
  }
}

std::unique_ptr<CatalogBackend> SqliteCatalog::open_reader() const { return open_read_only(file_); }

std::unique_ptr<ChangeListener> SqliteCatalog::change_listener() const { return std::make_unique<SleepingListener>(); }

std::string SqliteCatalog::catalog_id() {
  return guarded("reading the catalogue id",
                 [&] { return db_.execAndGet("SELECT catalog_id FROM catalog").getString(); });
}

uint64_t SqliteCatalog::generation() {
  return guarded("reading the generation", [&] { return read_generation(); });
}

// ---- Models ----

ModelId SqliteCatalog::model(const std::string& name, const std::string& fingerprint, int dim) {
  return guarded("registering a model", [&]() -> ModelId {
    SQLite::Statement select(db_, "SELECT model_id, dim FROM models WHERE name = ? AND fingerprint = ?");
    select.bind(1, name);
    select.bind(2, fingerprint);
    if (select.executeStep()) {
      const int known_dim = select.getColumn(1).getInt();
      if (known_dim != dim) {
        throw InvalidInput("model '" + name + "' (fingerprint '" + fingerprint + "') is recorded with dimension " +
                                    std::to_string(known_dim) + ", not " + std::to_string(dim));
      }
      return select.getColumn(0).getInt64();
    }
    require_writable("registering a model");
    SQLite::Statement insert(db_, "INSERT INTO models (name, fingerprint, dim) VALUES (?, ?, ?)");
    insert.bind(1, name);
    insert.bind(2, fingerprint);
    insert.bind(3, dim);
    insert.exec();
    return db_.getLastInsertRowid();
  });
}

std::optional<CatalogModel> SqliteCatalog::find_model(ModelId id) {
  return guarded("reading a model", [&] { return model_info(id); });
}

std::vector<CatalogModel> SqliteCatalog::models() {
  return guarded("listing models", [&] {
    std::vector<CatalogModel> models;
    SQLite::Statement select(db_, "SELECT model_id, name, fingerprint, dim FROM models ORDER BY model_id");
    while (select.executeStep()) {
      models.push_back({select.getColumn(0).getInt64(), select.getColumn(1).getString(),
                        select.getColumn(2).getString(), select.getColumn(3).getInt()});
    }
    return models;
  });
}

// ---- What the pipeline reads before it works ----

std::unordered_map<std::string, KnownFile> SqliteCatalog::known_files(ModelId model, const std::string& root) {
  return guarded("listing known files", [&] {
    SQLite::Transaction snapshot(db_, SQLite::TransactionBehavior::DEFERRED);
    // The contents with an embedding, read first, in id order, from the
    // compact primary key index: much cheaper than a lookup per file.
    std::vector<VectorId> embedded;
    SQLite::Statement with_embedding(db_,
                                     "SELECT vector_id FROM embeddings WHERE model_id = ? ORDER BY vector_id");
    with_embedding.bind(1, model);
    while (with_embedding.executeStep()) embedded.push_back(with_embedding.getColumn(0).getInt64());

    std::unordered_map<std::string, KnownFile> files;
    SQLite::Statement count(db_, with_root_filter("SELECT count(*) FROM files", root, "path"));
    bind_root(count, root);
    count.executeStep();
    files.reserve(static_cast<size_t>(count.getColumn(0).getInt64()));
    SQLite::Statement select(
        db_,
        with_root_filter("SELECT f.path, f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id FROM files f",
                         root, "f.path"));
    bind_root(select, root);
    while (select.executeStep()) {
      KnownFile known;
      known.signature = read_signature(select, 1);
      known.state = std::strcmp(select.getColumn(5).getText(), "ok") == 0 ? FileState::ok : FileState::failed;
      if (!select.getColumn(6).isNull()) {
        known.vector_id = select.getColumn(6).getInt64();
        known.has_embedding = std::binary_search(embedded.begin(), embedded.end(), *known.vector_id);
      }
      files.emplace(select.getColumn(0).getString(), known);
    }
    snapshot.commit();
    return files;
  });
}

std::vector<std::string> SqliteCatalog::paths_under(const std::string& root) {
  return guarded("listing paths", [&] {
    std::vector<std::string> paths;
    SQLite::Statement select(db_, with_root_filter("SELECT path FROM files", root, "path") + " ORDER BY path");
    bind_root(select, root);
    while (select.executeStep()) paths.push_back(select.getColumn(0).getString());
    return paths;
  });
}

std::optional<KnownFile> SqliteCatalog::known_file(ModelId model, const std::string& path) {
  return guarded("looking up a known file", [&]() -> std::optional<KnownFile> {
    SQLite::Statement select(db_,
                             "SELECT f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id, EXISTS (SELECT 1 "
                             "FROM embeddings e WHERE e.model_id = ? AND e.vector_id = f.vector_id) FROM files f "
                             "WHERE f.path = ?");
    select.bind(1, model);
    select.bind(2, path);
    if (!select.executeStep()) return std::nullopt;
    KnownFile known;
    known.signature = read_signature(select, 0);
    known.state = parse_state(select.getColumn(4).getString(), file_);
    if (!select.getColumn(5).isNull()) {
      known.vector_id = select.getColumn(5).getInt64();
      known.has_embedding = select.getColumn(6).getInt() != 0;
    }
    return known;
  });
}

std::optional<FileRecord> SqliteCatalog::file_with_signature(const StatSignature& signature) {
  const std::optional<std::string> path = guarded("looking up a file by its signature", [&]() -> std::optional<std::string> {
    SQLite::Statement select(db_,
                             "SELECT path FROM files WHERE device = ? AND inode = ? AND size = ? AND mtime_ns = ? "
                             "ORDER BY state = 'ok' DESC, path LIMIT 1");
    bind_signature(select, 1, signature);
    if (!select.executeStep()) return std::nullopt;
    return select.getColumn(0).getString();
  });
  if (!path) return std::nullopt;
  return file(*path);
}

std::optional<ContentStatus> SqliteCatalog::find_content(const ContentHash& hash, ModelId model) {
  return guarded("looking up a content", [&]() -> std::optional<ContentStatus> {
    SQLite::Statement select(db_,
                             "SELECT c.vector_id, EXISTS (SELECT 1 FROM embeddings e WHERE e.model_id = ? AND "
                             "e.vector_id = c.vector_id) FROM contents c WHERE c.hash = ?");
    select.bind(1, model);
    select.bind(2, hash.hex());
    if (!select.executeStep()) return std::nullopt;
    return ContentStatus{select.getColumn(0).getInt64(), select.getColumn(1).getInt() != 0};
  });
}

uint64_t SqliteCatalog::purge_orphaned_contents() {
  require_writable("purging orphaned contents");
  return guarded("purging orphaned contents", [&] {
    // Their embeddings go with them (ON DELETE CASCADE).
    const int removed = db_.exec(
        "DELETE FROM contents WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.vector_id = contents.vector_id)");
    return static_cast<uint64_t>(removed);
  });
}

// ---- Queries ----

std::vector<std::string> SqliteCatalog::paths_of(VectorId id) {
  return guarded("listing the paths of a content", [&] {
    std::vector<std::string> paths;
    SQLite::Statement select(db_, "SELECT path FROM files WHERE vector_id = ? ORDER BY path");
    select.bind(1, id);
    while (select.executeStep()) paths.push_back(select.getColumn(0).getString());
    return paths;
  });
}

std::optional<VectorId> SqliteCatalog::vector_id_of(const std::string& path) {
  return guarded("looking up a path", [&]() -> std::optional<VectorId> {
    SQLite::Statement select(db_, "SELECT vector_id FROM files WHERE path = ?");
    select.bind(1, path);
    if (!select.executeStep() || select.getColumn(0).isNull()) return std::nullopt;
    return select.getColumn(0).getInt64();
  });
}

std::optional<FileRecord> SqliteCatalog::file(const std::string& path) {
  return guarded("looking up a file", [&]() -> std::optional<FileRecord> {
    SQLite::Statement select(db_,
                             "SELECT f.device, f.inode, f.size, f.mtime_ns, f.state, f.vector_id, f.error, c.hash "
                             "FROM files f LEFT JOIN contents c ON c.vector_id = f.vector_id WHERE f.path = ?");
    select.bind(1, path);
    if (!select.executeStep()) return std::nullopt;
    FileRecord record;
    record.path = path;
    record.signature = read_signature(select, 0);
    record.state = parse_state(select.getColumn(4).getString(), file_);
    if (!select.getColumn(5).isNull()) record.vector_id = select.getColumn(5).getInt64();
    if (!select.getColumn(6).isNull()) record.error = select.getColumn(6).getString();
    if (!select.getColumn(7).isNull()) record.hash = parse_hash(select.getColumn(7).getString(), file_);
    return record;
  });
}

std::optional<std::vector<float>> SqliteCatalog::embedding(VectorId id, ModelId model) {
  return guarded("reading an embedding", [&]() -> std::optional<std::vector<float>> {
    const std::optional<CatalogModel> info = model_info(model);
    if (!info) return std::nullopt;
    SQLite::Statement select(db_, "SELECT vector FROM embeddings WHERE model_id = ? AND vector_id = ?");
    select.bind(1, model);
    select.bind(2, id);
    if (!select.executeStep()) return std::nullopt;
    std::vector<float> vector;
    read_vector(select.getColumn(0), info->dim, vector, file_);
    return vector;
  });
}

// A content is live for a model when an (ok) file points at it and it has an
// embedding for that model. Failed files have no vector_id.
static const char* const kLiveEmbeddings =
    "FROM embeddings e WHERE e.model_id = ? AND EXISTS (SELECT 1 FROM files f WHERE f.vector_id = e.vector_id)";

uint64_t SqliteCatalog::for_each_live_embedding(
    ModelId model, const std::function<void(VectorId, const std::vector<float>&)>& visit) {
  return guarded("reading the live embeddings", [&] {
    const std::optional<CatalogModel> info = model_info(model);
    if (!info) throw InvalidInput("unknown model id " + std::to_string(model));
    // One read transaction: the generation and the rows are one snapshot.
    SQLite::Transaction snapshot(db_, SQLite::TransactionBehavior::DEFERRED);
    const uint64_t generation = read_generation();
    SQLite::Statement select(db_,
                             std::string("SELECT e.vector_id, e.vector ") + kLiveEmbeddings + " ORDER BY e.vector_id");
    select.bind(1, model);
    std::vector<float> vector;
    while (select.executeStep()) {
      read_vector(select.getColumn(1), info->dim, vector, file_);
      visit(select.getColumn(0).getInt64(), vector);
    }
    snapshot.commit();
    return generation;
  });
}

uint64_t SqliteCatalog::live_count(ModelId model) {
  return guarded("counting live embeddings", [&] {
    SQLite::Statement select(db_, std::string("SELECT count(*) ") + kLiveEmbeddings);
    select.bind(1, model);
    select.executeStep();
    return static_cast<uint64_t>(select.getColumn(0).getInt64());
  });
}

CatalogCounts SqliteCatalog::counts() {
  return guarded("counting", [&] {
    CatalogCounts counts;
    SQLite::Transaction snapshot(db_, SQLite::TransactionBehavior::DEFERRED);
    SQLite::Statement by_state(db_, "SELECT state, count(*) FROM files GROUP BY state");
    while (by_state.executeStep()) {
      const auto n = static_cast<uint64_t>(by_state.getColumn(1).getInt64());
      (parse_state(by_state.getColumn(0).getString(), file_) == FileState::ok ? counts.files_ok
                                                                                     : counts.files_failed) = n;
    }
    counts.contents = static_cast<uint64_t>(db_.execAndGet("SELECT count(*) FROM contents").getInt64());
    counts.orphaned_contents = static_cast<uint64_t>(
        db_
            .execAndGet("SELECT count(*) FROM contents c WHERE NOT EXISTS "
                        "(SELECT 1 FROM files f WHERE f.vector_id = c.vector_id)")
            .getInt64());
    SQLite::Statement embeddings(db_, "SELECT model_id, count(*) FROM embeddings GROUP BY model_id");
    while (embeddings.executeStep()) {
      counts.embeddings[embeddings.getColumn(0).getInt64()] = static_cast<uint64_t>(embeddings.getColumn(1).getInt64());
    }
    SQLite::Statement live(db_,
                           "SELECT e.model_id, count(*) FROM embeddings e WHERE EXISTS "
                           "(SELECT 1 FROM files f WHERE f.vector_id = e.vector_id) GROUP BY e.model_id");
    while (live.executeStep()) {
      counts.live[live.getColumn(0).getInt64()] = static_cast<uint64_t>(live.getColumn(1).getInt64());
    }
    snapshot.commit();
    return counts;
  });
}

std::vector<FailedFile> SqliteCatalog::failed_files() {
  return guarded("listing failed files", [&] {
    std::vector<FailedFile> failed;
    SQLite::Statement select(db_,
                             "SELECT path, device, inode, size, mtime_ns, error FROM files WHERE state = 'failed' "
                             "ORDER BY path");
    while (select.executeStep()) {
      failed.push_back({select.getColumn(0).getString(), read_signature(select, 1), select.getColumn(5).getString()});
    }
    return failed;
  });
}

}  // namespace imgsearchd
