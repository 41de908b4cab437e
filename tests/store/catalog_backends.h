// The two catalogue backends the store tests run against (typed test
// suites): SQLite in a fresh folder per test, and PostgreSQL in a fresh
// database per test on the test binary's throwaway cluster
// (tests/support/postgres_cluster.h). Each gives the catalogue's location,
// the name its errors carry, and the few raw-SQL steps tests need.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "store/catalog/catalog.h"
#include "store/postgresql/postgres_catalog.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/scratch.h"

namespace imgsearchd::test {

struct SqliteBackend {
  std::filesystem::path dir = fresh_dir("store");
  std::filesystem::path db_file = dir / "catalog.db";

  CatalogLocation location() const { return db_file; }
  int latest_version() const { return Catalog::latest_schema_version(); }
  // Another location where no catalogue is.
  CatalogLocation missing() const { return dir / "missing.db"; }
  std::string name() const { return db_file.string(); }
  // The test's folder, for other files (index files).
  const std::filesystem::path& scratch() const { return dir; }
  // A second, new catalogue.
  CatalogLocation another() const { return dir / "another.db"; }

  void run_sql(const std::string& sql) const {
    SQLite::Database db(db_file.string(), SQLite::OPEN_READWRITE);
    db.exec(sql);
  }
  std::string sql_text(const std::string& sql) const {
    SQLite::Database db(db_file.string(), SQLite::OPEN_READONLY);
    return db.execAndGet(sql).getString();
  }
  // From another connection, as another process would: the database
  // refuses to insert a file row with this path, with `message`.
  void refuse_inserting(const std::string& path, const std::string& message) const {
    run_sql("CREATE TRIGGER refuse_path BEFORE INSERT ON files WHEN NEW.path = '" + path +
            "' BEGIN SELECT RAISE(ABORT, '" + message + "'); END");
  }
  void allow_inserting() const { run_sql("DROP TRIGGER refuse_path"); }
  void set_schema_version(int version) const { run_sql("PRAGMA user_version = " + std::to_string(version)); }
  std::string schema_version() const { return sql_text("PRAGMA user_version"); }
  // A database without the catalogue's schema (version 0).
  void make_unrelated_database() const {
    SQLite::Database db(db_file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec("CREATE TABLE unrelated (x)");
  }
};

struct PostgresBackend {
  std::filesystem::path dir = fresh_dir("store");
  std::string dsn = PostgresCluster::shared().create_database();
  std::string database = dsn.substr(dsn.rfind("dbname=") + 7);

  CatalogLocation location(const std::string& source = "this-host") const {
    return CatalogLocation::postgresql(dsn, source);
  }
  int latest_version() const { return PostgresCatalog::latest_schema_version(); }
  CatalogLocation missing() const {
    return CatalogLocation::postgresql(PostgresCluster::shared().dsn("no_such_database"), "this-host");
  }
  std::string name() const { return "postgresql:" + dsn; }
  const std::filesystem::path& scratch() const { return dir; }
  CatalogLocation another() const {
    return CatalogLocation::postgresql(PostgresCluster::shared().create_database(), "this-host");
  }

  void run_sql(const std::string& sql) const { PostgresCluster::shared().run_sql(database, sql); }
  std::string sql_text(const std::string& sql) const { return PostgresCluster::shared().sql_text(database, sql); }
  void refuse_inserting(const std::string& path, const std::string& message) const {
    run_sql("CREATE FUNCTION refuse_path() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.path = '" + path +
            "' THEN RAISE EXCEPTION '" + message + "'; END IF; RETURN NEW; END $$; "
            "CREATE TRIGGER refuse_path BEFORE INSERT ON files FOR EACH ROW EXECUTE FUNCTION refuse_path()");
  }
  void allow_inserting() const { run_sql("DROP TRIGGER refuse_path ON files; DROP FUNCTION refuse_path()"); }
  void set_schema_version(int version) const {
    run_sql("UPDATE schema_version SET version = " + std::to_string(version));
  }
  std::string schema_version() const { return sql_text("SELECT version FROM schema_version"); }
  // An empty database is one without the schema.
  void make_unrelated_database() const { run_sql("CREATE TABLE unrelated (x integer)"); }
};

using CatalogBackends = ::testing::Types<SqliteBackend, PostgresBackend>;

struct CatalogBackendNames {
  template <class Backend>
  static std::string GetName(int) {
    return std::is_same_v<Backend, SqliteBackend> ? "Sqlite" : "Postgres";
  }
};

}  // namespace imgsearchd::test
