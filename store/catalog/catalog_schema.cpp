#include "store/catalog/catalog_schema.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <stdexcept>
#include <string>

#include "store/core/store_error.h"

namespace imgsearchd::catalog_schema {
namespace {

// Each migration takes the schema from version - 1 to version. Never edit a
// migration that has shipped: add a new one.
struct Migration {
  int version;
  const char* sql;
};

const Migration kMigrations[] = {
    {1, R"sql(
-- One row: who this catalogue is and how many commits it has seen.
CREATE TABLE catalog (
  singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
  catalog_id TEXT NOT NULL,      -- random, tells index files of another catalogue apart
  generation INTEGER NOT NULL    -- bumped by every commit; the index file records it
);
INSERT INTO catalog VALUES (1, lower(hex(randomblob(16))), 0);

CREATE TABLE models (
  model_id    INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  dim         INTEGER NOT NULL CHECK (dim > 0),
  UNIQUE (name, fingerprint)
);

-- An image's identity. vector_id is derived from the hash (store/content_id.h).
CREATE TABLE contents (
  vector_id INTEGER PRIMARY KEY,
  hash      TEXT NOT NULL UNIQUE,  -- XXH3-128, 32 lowercase hex digits
  size      INTEGER NOT NULL
);

-- Paths are aliases of a content. A failed file keeps its reason and the
-- stat signature it failed with, so it is retried only when it changes.
CREATE TABLE files (
  path      TEXT PRIMARY KEY,
  device    INTEGER NOT NULL,
  inode     INTEGER NOT NULL,
  size      INTEGER NOT NULL,
  mtime_ns  INTEGER NOT NULL,
  state     TEXT NOT NULL CHECK (state IN ('ok', 'failed')),
  vector_id INTEGER REFERENCES contents (vector_id),
  error     TEXT,
  CHECK ((state = 'ok' AND vector_id IS NOT NULL AND error IS NULL) OR
         (state = 'failed' AND vector_id IS NULL AND error IS NOT NULL))
) WITHOUT ROWID;
CREATE INDEX files_by_vector_id ON files (vector_id);

-- Keyed by (model, content): switching models re-embeds lazily, switching
-- back costs nothing. vector is dim float32 in the machine's byte order
-- (little-endian on every supported platform), L2-normalised.
CREATE TABLE embeddings (
  model_id  INTEGER NOT NULL REFERENCES models (model_id),
  vector_id INTEGER NOT NULL REFERENCES contents (vector_id) ON DELETE CASCADE,
  vector    BLOB NOT NULL,
  PRIMARY KEY (model_id, vector_id)
);
CREATE INDEX embeddings_by_vector_id ON embeddings (vector_id);
)sql"},
    {2, R"sql(
-- A file renamed or moved keeps its device and inode: a new path with the
-- signature of a known file takes that file's content without being read.
CREATE INDEX files_by_inode ON files (device, inode);
)sql"},
};

int user_version(SQLite::Database& db) { return db.execAndGet("PRAGMA user_version").getInt(); }

void refuse_newer(int found, const std::filesystem::path& file) {
  throw StoreError(file, "the catalogue has schema version " + std::to_string(found) +
                             ", newer than this imgsearchd understands (up to " + std::to_string(latest_version()) +
                             "); run a newer imgsearchd, or point this one at another database file");
}

}  // namespace

int latest_version() { return kMigrations[std::size(kMigrations) - 1].version; }

void configure_connection(SQLite::Database& db, bool writer) {
  // Waits for another connection's write lock instead of failing at once.
  db.setBusyTimeout(10'000);
  db.exec("PRAGMA foreign_keys = ON");
  if (writer) {
    // Only takes effect when the database is created. An embedding row is
    // 2-3 KB; 4 KB pages would hold one each and waste nearly half the file.
    db.exec("PRAGMA page_size = 16384");
    const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
    if (mode != "wal") {
      throw StoreError(db.getFilename(), "could not switch the catalogue to WAL mode (journal_mode is '" + mode + "')");
    }
    // FULL: a committed batch survives power loss, not only a crash.
    db.exec("PRAGMA synchronous = FULL");
  }
}

void migrate(SQLite::Database& db, const std::filesystem::path& file, int target_version) {
  if (target_version < 1 || target_version > latest_version()) {
    throw InvalidInput("no catalogue schema version " + std::to_string(target_version));
  }
  // All pending migrations run in one write transaction, and the version is
  // read inside it: a crash leaves the old schema, and two processes opening
  // a new catalogue at once cannot both create the schema.
  SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
  const int version = user_version(db);
  if (version > latest_version()) refuse_newer(version, file);
  if (version >= target_version) return;  // the transaction rolls back: nothing was changed
  for (const Migration& migration : kMigrations) {
    if (migration.version > version && migration.version <= target_version) db.exec(migration.sql);
  }
  // user_version lives in the database header: it commits with the migrations.
  db.exec("PRAGMA user_version = " + std::to_string(target_version));
  transaction.commit();
}

void require_latest(SQLite::Database& db, const std::filesystem::path& file) {
  const int version = user_version(db);
  if (version > latest_version()) refuse_newer(version, file);
  if (version < latest_version()) {
    throw StoreError(file, "the catalogue has schema version " + std::to_string(version) + ", expected " +
                               std::to_string(latest_version()) +
                               "; it must be opened for writing first (the daemon does so at start-up)");
  }
}

}  // namespace imgsearchd::catalog_schema
