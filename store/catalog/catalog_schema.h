// Internal to store/: the catalogue's schema, its migrations and the
// connection settings every connection needs.
#pragma once

#include <filesystem>

namespace SQLite {
class Database;
}

namespace imgsearchd::catalog_schema {

// The newest schema version this build knows (PRAGMA user_version).
int latest_version();

// Connection settings: foreign keys on, a busy timeout, and for the writer
// WAL mode and synchronous=FULL (a commit survives power loss).
void configure_connection(SQLite::Database& db, bool writer);

// Brings the schema to `target_version` (tests build older catalogues with
// it) in one transaction. Throws StoreError naming `file` if the database is
// newer than this build.
void migrate(SQLite::Database& db, const std::filesystem::path& file, int target_version = latest_version());

// For readers: throws StoreError naming `file` unless the database is at
// latest_version().
void require_latest(SQLite::Database& db, const std::filesystem::path& file);

}  // namespace imgsearchd::catalog_schema
