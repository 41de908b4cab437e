#include "tests/support/postgres_cluster.h"

#include <libpq-fe.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>


namespace imgsearchd::test {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kNobody = 65534;
const fs::path kBinDir = "/usr/lib/postgresql/15/bin";
constexpr const char* kSuperuser = "imgsearchd";
constexpr const char* kPasswordRole = "imgsearchd_password";

// The environment's cluster, started by the first test that asks for it (a
// binary's SQLite tests never pay for it).
bool g_environment = false;
PostgresCluster* g_shared = nullptr;

// Runs a shell command as nobody (as the current user when not root), its
// output appended to `log`; returns its failure with that output. No pipe:
// pg_ctl leaves the server running, and it would hold a pipe open forever.
std::string run_as_server_user(const std::string& command, const fs::path& log) {
  const std::string line = command + " >>'" + log.string() + "' 2>&1";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) {
      ::_exit(126);
    }
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return "'" + command + "' failed (status " + std::to_string(status) + "):\n" + text.str();
}

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

// A connection as the superuser; nullptr with a test failure if it fails.
std::unique_ptr<PGconn, void (*)(PGconn*)> connect(const std::string& dsn) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> connection(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(connection.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to the test cluster (" << dsn << "): " << PQerrorMessage(connection.get());
  }
  return connection;
}

}  // namespace

PostgresCluster& PostgresCluster::shared() {
  static PostgresCluster cluster;
  if (!g_environment) {
    ADD_FAILURE() << "no PostgreSQL test cluster: the test binary must register PostgresClusterEnvironment";
    return cluster;
  }
  if (g_shared == nullptr) {
    const std::string failure = cluster.start();
    if (!failure.empty()) {
      ADD_FAILURE() << "cannot start the PostgreSQL test cluster: " << failure;
      return cluster;
    }
    g_shared = &cluster;
  }
  return *g_shared;
}

PostgresCluster::PostgresCluster() = default;

PostgresCluster::~PostgresCluster() { stop(); }

std::string PostgresCluster::start() {
  scratch_ = std::make_unique<WorldScratch>();
  const fs::path root = scratch_->path();
  if (root.empty()) return "no scratch folder";
  data_dir_ = root / "data";
  socket_dir_ = root / "run";
  log_file_ = socket_dir_ / "server.log";
  // The port only names the socket file (no TCP): any number not used by
  // another cluster in the same folder will do; the folder is ours alone.
  port_ = 20000 + static_cast<int>(::getpid() % 20000);
  fs::create_directories(socket_dir_);
  if (::geteuid() == 0 && ::chown(socket_dir_.c_str(), kNobody, kNobody) != 0) return "cannot give the socket folder to nobody";
  const std::string initdb = (kBinDir / "initdb").string() + " --no-sync --auth=trust --encoding=UTF8 --locale=C -U " +
                             kSuperuser + " -D " + quoted(data_dir_);
  // initdb creates data_dir_ itself, as nobody, inside a folder nobody may write to: make it first.
  fs::create_directories(data_dir_);
  fs::permissions(data_dir_, fs::perms::owner_all);
  if (::geteuid() == 0 && ::chown(data_dir_.c_str(), kNobody, kNobody) != 0) return "cannot give the data folder to nobody";
  if (std::string failure = run_as_server_user(initdb, socket_dir_ / "initdb.log"); !failure.empty()) return failure;
  // One role must give a password (the password-file tests); every other
  // local connection is trusted. pg_hba.conf is first match: it goes first.
  {
    const fs::path hba = data_dir_ / "pg_hba.conf";
    std::ifstream in(hba);
    std::stringstream rest;
    rest << in.rdbuf();
    in.close();
    std::ofstream out(hba, std::ios::trunc);
    out << "local all " << kPasswordRole << " scram-sha-256\n" << rest.str();
  }
  if (std::string failure = start_server(); !failure.empty()) return failure;
  running_ = true;
  return {};
}

std::string PostgresCluster::start_server() {
  const std::string options = "-c listen_addresses='' -c unix_socket_directories='" + socket_dir_.string() +
                              "' -p " + std::to_string(port_) + " -c fsync=off -c max_connections=100";
  const std::string start = (kBinDir / "pg_ctl").string() + " start -w -t 60 -D " + quoted(data_dir_) + " -l " +
                            quoted(log_file_) + " -o \"" + options + "\"";
  if (std::string failure = run_as_server_user(start, socket_dir_ / "pg_ctl.log"); !failure.empty()) return failure;
  return {};
}

std::string PostgresCluster::stop_server() {
  const std::string stop = (kBinDir / "pg_ctl").string() + " stop -w -t 60 -m fast -D " + quoted(data_dir_);
  return run_as_server_user(stop, socket_dir_ / "pg_ctl.log");
}


void PostgresCluster::stop() {
  if (!running_) return;
  running_ = false;
  if (std::string failure = stop_server(); !failure.empty()) {
    ADD_FAILURE() << "stopping the test cluster: " << failure;
  }
  scratch_.reset();
}

std::string PostgresCluster::dsn(const std::string& database) const {
  return "host=" + socket_dir_.string() + " port=" + std::to_string(port_) + " user=" + kSuperuser +
         " dbname=" + database;
}

std::string PostgresCluster::create_database() {
  std::string name = "t" + std::to_string(++databases_);
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    std::string test = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : test) c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(c)) : '_';
    name += "_" + test.substr(0, 50);
  }
  run_sql("postgres", "CREATE DATABASE " + name);
  return dsn(name);
}

std::string PostgresCluster::password_role(const std::string& database, const std::string& password) {
  if (sql_text("postgres", "SELECT count(*) FROM pg_roles WHERE rolname = '" + std::string(kPasswordRole) + "'") ==
      "0") {
    run_sql("postgres", "CREATE ROLE " + std::string(kPasswordRole) + " LOGIN");
  }
  run_sql("postgres", "ALTER ROLE " + std::string(kPasswordRole) + " PASSWORD '" + password + "'");
  run_sql("postgres", "ALTER DATABASE " + database + " OWNER TO " + kPasswordRole);
  run_sql(database, "GRANT ALL ON SCHEMA public TO " + std::string(kPasswordRole));
  return kPasswordRole;
}

void PostgresCluster::run_sql(const std::string& database, const std::string& sql) const {
  auto connection = connect(dsn(database));
  PGresult* result = PQexec(connection.get(), sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    ADD_FAILURE() << "SQL on the test cluster failed: " << sql << ": " << PQresultErrorMessage(result);
  }
  PQclear(result);
}

std::string PostgresCluster::sql_text(const std::string& database, const std::string& sql) const {
  auto connection = connect(dsn(database));
  PGresult* result = PQexec(connection.get(), sql.c_str());
  std::string text;
  if (PQresultStatus(result) != PGRES_TUPLES_OK || PQntuples(result) < 1) {
    ADD_FAILURE() << "SQL on the test cluster failed: " << sql << ": " << PQresultErrorMessage(result);
  } else {
    text = PQgetvalue(result, 0, 0);
  }
  PQclear(result);
  return text;
}

void PostgresClusterEnvironment::SetUp() { g_environment = true; }

void PostgresClusterEnvironment::TearDown() {
  if (g_shared) g_shared->stop();
  g_shared = nullptr;
}

}  // namespace imgsearchd::test
