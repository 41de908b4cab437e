// Internal to store/postgresql: the change listener of the PostgreSQL
// catalogue. Every commit announces its generation on kCommitChannel
// (NOTIFY, delivered when the transaction commits); the listener LISTENs on
// a connection of its own and waits on its socket with poll(), together with
// an eventfd that interrupt() writes, so a stop never waits for the timeout.
#pragma once

#include <filesystem>
#include <memory>

#include "store/core/catalog_types.h"
#include "store/core/change_listener.h"
#include "store/postgresql/pg_connection.h"

namespace imgsearchd {

// The channel every commit announces its generation on.
inline constexpr const char* kCommitChannel = "imgsearchd_commits";

class PgChangeListener final : public ChangeListener {
 public:
  // Connects at the first wait. Throws StoreError if no eventfd can be made.
  PgChangeListener(const CatalogLocation& location, std::filesystem::path name);
  ~PgChangeListener() override;
  PgChangeListener(const PgChangeListener&) = delete;
  PgChangeListener& operator=(const PgChangeListener&) = delete;

  Woken wait(std::chrono::milliseconds timeout) override;
  void interrupt() override;

 private:
  // Connects and LISTENs. Throws StoreError.
  void connect();
  [[noreturn]] void lost(const std::string& what);

  CatalogLocation location_;
  std::filesystem::path name_;  // "postgresql:<dsn>", for messages
  std::unique_ptr<pg::Connection> db_;
  int wake_fd_ = -1;  // eventfd: interrupt() makes it readable
};

}  // namespace imgsearchd
