// Internal to store/postgresql: a thin owner of a libpq connection and its
// results. Queries take text parameters (bytea ones binary) and return
// binary results, so integers and vectors need no text parsing.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace imgsearchd::pg {

// What libpq or the server refused; `sqlstate` is the five-character code
// (empty when the connection itself failed).
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& message, std::string sqlstate)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

// One query parameter: text, binary bytes (bytea) or NULL.
struct Param {
  std::optional<std::string> value;
  bool binary = false;

  static Param null() { return Param{}; }
  static Param bytes(const void* data, size_t size) {
    return Param{std::string(static_cast<const char*>(data), size), true};
  }
};
inline Param param(const std::string& text) { return Param{text, false}; }
inline Param param(const char* text) { return Param{std::string(text), false}; }
inline Param param(int64_t value) { return Param{std::to_string(value), false}; }
inline Param param(uint64_t value) { return Param{std::to_string(static_cast<int64_t>(value)), false}; }
inline Param param(int value) { return Param{std::to_string(value), false}; }

class Result {
 public:
  explicit Result(PGresult* result) : result_(result, &PQclear) {}

  int rows() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // int2, int4 or int8 columns, in network byte order.
  int64_t integer(int row, int column) const;
  bool boolean(int row, int column) const { return *PQgetvalue(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       static_cast<size_t>(PQgetlength(result_.get(), row, column)));
  }
  const char* bytes(int row, int column) const { return PQgetvalue(result_.get(), row, column); }
  size_t size(int row, int column) const { return static_cast<size_t>(PQgetlength(result_.get(), row, column)); }

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class Connection {
 public:
  // Connects with `dsn` (expanded as libpq does: keywords or a URI), and
  // `password_file` as libpq's passfile when not empty. `defaults` are
  // further libpq keywords and values that `dsn` may override. Throws
  // PgError.
  Connection(const std::string& dsn, const std::string& password_file,
             const std::vector<std::pair<std::string, std::string>>& defaults = {});

  // Runs one statement. Throws PgError with the server's message.
  Result exec(const std::string& sql, const std::vector<Param>& params = {});
  // Runs statements without parameters (several separated by ';').
  void exec_script(const std::string& sql);

  bool in_transaction() const { return PQtransactionStatus(connection_.get()) != PQTRANS_IDLE; }
  bool broken() const { return PQstatus(connection_.get()) == CONNECTION_BAD; }
  // Reconnects a broken connection. Throws PgError if it cannot.
  void reset();

  // For LISTEN: the socket to wait on; reads what the server sent (false:
  // the connection is lost); the payloads of the notifications received on
  // `channel` since the last call.
  int socket() const { return PQsocket(connection_.get()); }
  bool consume_input() { return PQconsumeInput(connection_.get()) == 1; }
  std::vector<std::string> take_notifications(const std::string& channel);
  // What libpq says about the connection's last failure.
  std::string last_error() const;

 private:
  // `raw` as a Result if it succeeded; else throws PgError (and frees it).
  Result checked(PGresult* raw);

  std::unique_ptr<PGconn, void (*)(PGconn*)> connection_;
};

// The server's message for a failed result, without the trailing newline.
std::string error_message(const PGresult* result, PGconn* connection);

}  // namespace imgsearchd::pg
