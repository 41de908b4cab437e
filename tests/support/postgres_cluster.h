// A throwaway PostgreSQL cluster for the tests of the PostgreSQL catalogue:
// initdb and pg_ctl from Debian's postgresql-15 (/usr/lib/postgresql/15/bin),
// run as `nobody` when the tests run as root (PostgreSQL refuses root), in a
// world-traversable folder under /tmp, reachable only on a Unix socket there
// (no TCP), stopped and removed at the end.
//
// One cluster per test binary: a test binary that needs one registers
// PostgresClusterEnvironment (tests/support/postgres_environment.cpp); the
// first test that calls PostgresCluster::shared() starts it, and GoogleTest
// stops it after the last test, also when tests fail. Every test takes a
// fresh database from it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tests/support/scratch.h"

namespace imgsearchd::test {

class PostgresCluster {
 public:
  // The binary's cluster, started on first use; a test failure if the
  // binary registered no environment or it cannot start.
  static PostgresCluster& shared();

  PostgresCluster();
  ~PostgresCluster();  // stops the server
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  // initdb (trust authentication for local connections) and pg_ctl start.
  // Returns what went wrong, or an empty string.
  std::string start();
  void stop();
  bool running() const { return running_; }
  // The server alone, the cluster kept: a test takes PostgreSQL away and
  // brings it back (every connection is closed). Return what went wrong.
  std::string stop_server();
  std::string start_server();

  // A libpq connection string for `database` on this cluster.
  std::string dsn(const std::string& database) const;
  // A new empty database named after the running test; returns its dsn.
  std::string create_database();
  // Runs SQL on `database` as the superuser; a test failure if it fails.
  void run_sql(const std::string& database, const std::string& sql) const;
  // The first column of the first row of `sql`, as text.
  std::string sql_text(const std::string& database, const std::string& sql) const;
  // A role that must give a password (every other local connection is
  // trusted), with `password` and full rights on `database`. Returns its name.
  std::string password_role(const std::string& database, const std::string& password);
  // The socket folder (host=), for dsn built by hand.
  const std::filesystem::path& socket_dir() const { return socket_dir_; }
  int port() const { return port_; }

 private:
  std::unique_ptr<WorldScratch> scratch_;
  std::filesystem::path data_dir_, socket_dir_, log_file_;
  int port_ = 0;
  bool running_ = false;
  int databases_ = 0;
};

// Stops the shared cluster after the last test. Registered by
// tests/support/postgres_environment.cpp, a source of the test binaries
// that use PostgreSQL (see tests/store/CMakeLists.txt).
class PostgresClusterEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
};

}  // namespace imgsearchd::test
