// The PostgreSQL catalogue: one database shared by several imgsearchd
// services (README "Several machines"). Contents and embeddings are shared
// (one row per content, one embedding per model, whoever computed it);
// files belong to the source that sees them (CatalogLocation::source).
//
// Commits are serialised by the single-row generation counter, which every
// commit updates first: that is the one lock order (no deadlock), the
// generation is global and follows commit order, and a commit sees every
// commit before it. Contents and embeddings are inserted with ON CONFLICT DO
// NOTHING, so two services committing the same new content end with one row
// each and no error. Every commit records the contents it touched in
// `changes`, by generation, for replicas that catch up, and announces its
// generation on the channel `imgsearchd_commits` (NOTIFY, delivered when it
// commits) to the services' listeners (pg_listener.h).
//
// The change log keeps its newest entries, whole commits at a time, at most
// half as many as there are live contents; every 64th commit prunes it and
// records in `change_log` how far back it reaches. A replica further behind
// is rebuilt (Catalog::rebuild_reason), which a catch-up that long would
// not beat anyway.
#pragma once

#include <memory>

#include "store/core/catalog_backend.h"

namespace imgsearchd {

class PostgresCatalog {
 public:
  // Connects to location.dsn. The writer creates or migrates the schema; a
  // reader needs it at the latest version. Throws InvalidInput if the dsn
  // holds a password or no source is given, StoreError naming the database
  // if it cannot be reached or was written by a newer imgsearchd.
  static std::unique_ptr<CatalogBackend> open(const CatalogLocation& location, bool read_only);

  // The newest schema version this build writes and understands.
  static int latest_schema_version();
};

// Throws InvalidInput naming store.postgresql.dsn if `dsn` is not a valid
// libpq connection string or holds a password.
void check_postgresql_dsn(const std::string& dsn);

}  // namespace imgsearchd
