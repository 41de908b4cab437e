// Linked into a test binary that runs tests against PostgreSQL: registers
// the one throwaway cluster of that binary (tests/support/postgres_cluster.h)
// before GoogleTest's main runs the tests.
#include "tests/support/postgres_cluster.h"

namespace {
const ::testing::Environment* const kPostgresEnvironment =
    ::testing::AddGlobalTestEnvironment(new imgsearchd::test::PostgresClusterEnvironment);
}  // namespace
