#include "store/postgresql/pg_connection.h"

#include <arpa/inet.h>

namespace imgsearchd::pg {
namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// libpq prints notices (e.g. "relation already exists, skipping") to stderr
// by default; the catalogue has nothing to tell the user in them.
void ignore_notice(void*, const char*) {}

}  // namespace

Result Connection::checked(PGresult* raw) {
  const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result(raw);
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  PgError error(error_message(raw, connection_.get()), state ? state : "");
  if (raw) PQclear(raw);
  throw error;
}

std::string error_message(const PGresult* result, PGconn* connection) {
  const char* message = result ? PQresultErrorMessage(result) : nullptr;
  if (message == nullptr || *message == '\0') message = PQerrorMessage(connection);
  return trimmed(message ? message : "unknown libpq error");
}

int64_t Result::integer(int row, int column) const {
  const char* value = PQgetvalue(result_.get(), row, column);
  switch (PQgetlength(result_.get(), row, column)) {
    case 2: {
      uint16_t v;
      std::memcpy(&v, value, 2);
      return static_cast<int16_t>(ntohs(v));
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, value, 4);
      return static_cast<int32_t>(ntohl(v));
    }
    case 8: {
      uint32_t high, low;
      std::memcpy(&high, value, 4);
      std::memcpy(&low, value + 4, 4);
      return static_cast<int64_t>((static_cast<uint64_t>(ntohl(high)) << 32) | ntohl(low));
    }
    default:
      throw PgError("a column expected to be an integer has " +
                        std::to_string(PQgetlength(result_.get(), row, column)) + " bytes",
                    "");
  }
}

Connection::Connection(const std::string& dsn, const std::string& password_file,
                       const std::vector<std::pair<std::string, std::string>>& defaults)
    : connection_(nullptr, &PQfinish) {
  // libpq takes keywords in order, a later one winning: `defaults` come
  // before the dsn, which may override them.
  std::vector<const char*> keywords, values;
  for (const auto& [keyword, value] : defaults) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back("dbname");
  values.push_back(dsn.c_str());
  keywords.push_back("fallback_application_name");
  values.push_back("imgsearchd");
  if (!password_file.empty()) {
    keywords.push_back("passfile");
    values.push_back(password_file.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  connection_.reset(PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1));
  if (!connection_) throw PgError("libpq could not allocate a connection", "");
  if (PQstatus(connection_.get()) != CONNECTION_OK) throw PgError(error_message(nullptr, connection_.get()), "");
  PQsetNoticeProcessor(connection_.get(), &ignore_notice, nullptr);
}

Result Connection::exec(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const Param& p : params) {
    values.push_back(p.value ? p.value->data() : nullptr);
    lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
    formats.push_back(p.binary ? 1 : 0);
  }
  return checked(PQexecParams(connection_.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                              values.data(), lengths.data(), formats.data(), /*resultFormat=*/1));
}

void Connection::exec_script(const std::string& sql) {
  checked(PQexec(connection_.get(), sql.c_str()));
}

void Connection::reset() {
  PQreset(connection_.get());
  if (PQstatus(connection_.get()) != CONNECTION_OK) throw PgError(error_message(nullptr, connection_.get()), "");
}

}  // namespace imgsearchd::pg

namespace imgsearchd::pg {

std::vector<std::string> Connection::take_notifications(const std::string& channel) {
  std::vector<std::string> payloads;
  while (PGnotify* notification = PQnotifies(connection_.get())) {
    if (channel == notification->relname) payloads.emplace_back(notification->extra ? notification->extra : "");
    PQfreemem(notification);
  }
  return payloads;
}

std::string Connection::last_error() const { return error_message(nullptr, connection_.get()); }

}  // namespace imgsearchd::pg
