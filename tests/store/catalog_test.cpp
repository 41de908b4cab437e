// The catalogue on both backends (a typed suite: SQLite files, and a
// PostgreSQL database per test on a throwaway cluster): schema and restarts,
// atomic batches, renames, orphans, models, failed files, collisions,
// refused databases. Then what only SQLite has (WAL, its file format, its
// older schema), and what only PostgreSQL has (several sources sharing
// contents, concurrent writers, the password rules).
#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "catalog_backends.h"
#include "store/catalog/catalog.h"
#include "store/catalog/catalog_schema.h"
#include "store_test_util.h"

namespace imgsearchd {
namespace {

using test::fresh_dir;
using test::hash_of;
using test::indexed;
using test::normalised;
using test::signature_of;
using test::vector_of;

constexpr int kDim = 8;

template <class Backend>
struct CatalogTest : ::testing::Test {
  Backend backend;
  CatalogLocation location = backend.location();
};
TYPED_TEST_SUITE(CatalogTest, test::CatalogBackends, test::CatalogBackendNames);

struct SqliteCatalogTest : ::testing::Test {
  std::filesystem::path dir = fresh_dir("store");
  std::filesystem::path db_file = dir / "catalog.db";
};

std::string sql_text(const std::filesystem::path& file, const std::string& sql) {
  SQLite::Database db(file.string(), SQLite::OPEN_READONLY);
  return db.execAndGet(sql).getString();
}

std::vector<VectorId> ids_of(const std::vector<LiveVector>& vectors) {
  std::vector<VectorId> ids;
  for (const LiveVector& v : vectors) ids.push_back(v.id);
  return ids;
}

TYPED_TEST(CatalogTest, NewCatalogueIsAtTheLatestSchemaVersion) {
  { Catalog catalog = Catalog::open(this->location); }
  EXPECT_EQ(this->backend.schema_version(), std::to_string(this->backend.latest_version()));
  Catalog catalog = Catalog::open(this->location);
  EXPECT_EQ(catalog.generation(), 0u);
  EXPECT_EQ(catalog.catalog_id().size(), 32u);
}

TYPED_TEST(CatalogTest, EverythingCommittedSurvivesARestart) {
  std::string catalog_id;
  ModelId model = 0;
  {
    Catalog catalog = Catalog::open(this->location);
    catalog_id = catalog.catalog_id();
    model = catalog.model("ViT-B-32", "sha256:abc", kDim);
    Batch batch;
    batch.model = model;
    batch.indexed = {indexed("/p/a.jpg", 1, kDim), indexed("/p/b.jpg", 2, kDim), indexed("/p/copy-of-a.jpg", 1, 0, 7)};
    batch.failed = {{"/p/bad.jpg", signature_of(9), "not a JPEG: bad marker"}};
    catalog.commit(batch);
  }  // closed

  Catalog catalog = Catalog::open(this->location);
  EXPECT_EQ(catalog.catalog_id(), catalog_id);
  EXPECT_EQ(catalog.generation(), 1u);
  ASSERT_EQ(catalog.models().size(), 1u);
  EXPECT_EQ(catalog.model("ViT-B-32", "sha256:abc", kDim), model);
  EXPECT_EQ(catalog.find_model(model)->dim, kDim);

  const auto known = catalog.known_files(model);
  ASSERT_EQ(known.size(), 4u);
  EXPECT_EQ(known.at("/p/a.jpg").signature, signature_of(1));
  EXPECT_EQ(known.at("/p/a.jpg").vector_id, vector_id_for(hash_of(1)));
  EXPECT_TRUE(known.at("/p/a.jpg").has_embedding);
  EXPECT_EQ(known.at("/p/copy-of-a.jpg").signature, signature_of(7));
  EXPECT_EQ(known.at("/p/copy-of-a.jpg").vector_id, vector_id_for(hash_of(1)));
  EXPECT_EQ(known.at("/p/bad.jpg").state, FileState::failed);
  EXPECT_EQ(known.at("/p/bad.jpg").signature, signature_of(9));
  EXPECT_FALSE(known.at("/p/bad.jpg").vector_id.has_value());

  const auto record = catalog.file("/p/b.jpg");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->hash, hash_of(2));
  EXPECT_EQ(record->state, FileState::ok);

  const auto stored = catalog.embedding(vector_id_for(hash_of(2)), model);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(*stored, normalised(vector_of(2, kDim)));
  EXPECT_EQ(catalog.paths_of(vector_id_for(hash_of(1))), (std::vector<std::string>{"/p/a.jpg", "/p/copy-of-a.jpg"}));

  const CatalogCounts counts = catalog.counts();
  EXPECT_EQ(counts.files_ok, 3u);
  EXPECT_EQ(counts.files_failed, 1u);
  EXPECT_EQ(counts.contents, 2u);
  EXPECT_EQ(counts.orphaned_contents, 0u);
  EXPECT_EQ(counts.embeddings.at(model), 2u);
  EXPECT_EQ(counts.live.at(model), 2u);
  EXPECT_EQ(catalog.live_count(model), 2u);
}

TYPED_TEST(CatalogTest, CommitReportsWhatBecameLiveAndBumpsTheGeneration) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  Batch batch;
  batch.model = model;
  batch.indexed = {indexed("/p/a.jpg", 1, kDim), indexed("/p/b.jpg", 2, kDim)};
  const CommitResult result = catalog.commit(batch);
  EXPECT_EQ(result.generation, 1u);
  EXPECT_EQ(result.model, model);
  std::vector<VectorId> expected{vector_id_for(hash_of(1)), vector_id_for(hash_of(2))};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids_of(result.became_live), expected);
  for (const LiveVector& live : result.became_live) EXPECT_EQ(live.vector, *catalog.embedding(live.id, model));
  EXPECT_TRUE(result.orphaned.empty());
  EXPECT_EQ(catalog.generation(), 1u);
}

TYPED_TEST(CatalogTest, AnExceptionMidBatchLeavesNothingOfIt) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  Batch first;
  first.model = model;
  first.indexed = {indexed("/p/keep.jpg", 1, kDim), indexed("/p/old.jpg", 2, kDim)};
  catalog.commit(first);
  const auto before = catalog.known_files(model);

  // Another connection makes the database refuse one row of the next batch,
  // in the middle of it.
  this->backend.refuse_inserting("/p/boom.jpg", "boom refused");
  Batch second;
  second.model = model;
  second.deleted = {"/p/old.jpg"};
  second.failed = {{"/p/bad.jpg", signature_of(5), "corrupt"}};
  second.indexed = {indexed("/p/new1.jpg", 3, kDim), indexed("/p/boom.jpg", 4, kDim), indexed("/p/new2.jpg", 5, kDim)};
  try {
    catalog.commit(second);
    FAIL() << "the commit should have thrown";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("boom refused"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(this->backend.name()), std::string::npos) << e.what();
  }

  const auto after = catalog.known_files(model);
  EXPECT_EQ(after.size(), before.size());
  EXPECT_TRUE(after.count("/p/old.jpg"));
  EXPECT_FALSE(after.count("/p/new1.jpg"));
  EXPECT_FALSE(after.count("/p/bad.jpg"));
  EXPECT_EQ(catalog.generation(), 1u);
  EXPECT_EQ(catalog.counts().contents, 2u);
  EXPECT_FALSE(catalog.find_content(hash_of(3), model).has_value());

  // The catalogue is still usable: the same batch goes through once allowed.
  this->backend.allow_inserting();
  const CommitResult result = catalog.commit(second);
  EXPECT_EQ(result.generation, 2u);
  EXPECT_EQ(result.became_live.size(), 3u);
  EXPECT_EQ(result.orphaned, std::vector<VectorId>{vector_id_for(hash_of(2))});
}

TYPED_TEST(CatalogTest, InvalidBatchesAreRefusedBeforeAnythingIsWritten) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  auto expect_refused = [&](Batch batch, const std::string& expected_text) {
    try {
      catalog.commit(batch);
      ADD_FAILURE() << "expected InvalidInput mentioning " << expected_text;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(expected_text), std::string::npos) << e.what();
    }
    EXPECT_EQ(catalog.generation(), 0u);
    EXPECT_TRUE(catalog.known_files(model).empty());
  };
  Batch wrong_dim{model, {indexed("/p/a.jpg", 1, kDim), indexed("/p/b.jpg", 2, kDim + 1)}, {}, {}};
  expect_refused(wrong_dim, "/p/b.jpg");
  Batch zero{model, {indexed("/p/a.jpg", 1, kDim)}, {}, {}};
  zero.indexed[0].embedding.assign(kDim, 0.0f);
  expect_refused(zero, "zero or not finite");
  Batch twice{model, {indexed("/p/a.jpg", 1, kDim)}, {}, {"/p/a.jpg"}};
  expect_refused(twice, "more than once");
  Batch unknown_model{model + 42, {indexed("/p/a.jpg", 1, kDim)}, {}, {}};
  expect_refused(unknown_model, "unknown");
}

TYPED_TEST(CatalogTest, RenameAttachesThePathToTheExistingContent) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  const VectorId id = vector_id_for(hash_of(1));
  catalog.commit({model, {indexed("/p/a.jpg", 1, kDim)}, {}, {}});

  // The pipeline found a known hash: no embedding in the batch.
  ASSERT_TRUE(catalog.find_content(hash_of(1), model).has_value());
  EXPECT_TRUE(catalog.find_content(hash_of(1), model)->has_embedding);
  const CommitResult renamed = catalog.commit({model, {indexed("/q/renamed.jpg", 1, 0)}, {}, {"/p/a.jpg"}});
  EXPECT_TRUE(renamed.became_live.empty());
  EXPECT_TRUE(renamed.orphaned.empty());
  EXPECT_EQ(catalog.paths_of(id), std::vector<std::string>{"/q/renamed.jpg"});
  EXPECT_EQ(catalog.vector_id_of("/q/renamed.jpg"), id);
  EXPECT_FALSE(catalog.vector_id_of("/p/a.jpg").has_value());
  EXPECT_EQ(catalog.counts().contents, 1u);
  EXPECT_EQ(catalog.counts().embeddings.at(model), 1u);
  EXPECT_EQ(catalog.live_count(model), 1u);
}

TYPED_TEST(CatalogTest, DeletingTheLastPathOrphansTheContentAndItsReturnReusesTheEmbedding) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  const VectorId id = vector_id_for(hash_of(1));
  catalog.commit({model, {indexed("/p/a.jpg", 1, kDim), indexed("/p/a-copy.jpg", 1, 0, 3)}, {}, {}});
  const std::vector<float> embedding = *catalog.embedding(id, model);

  EXPECT_TRUE(catalog.commit({model, {}, {}, {"/p/a.jpg"}}).orphaned.empty()) << "a copy still points at it";
  const CommitResult gone = catalog.commit({model, {}, {}, {"/p/a-copy.jpg", "/p/never-known.jpg"}});
  EXPECT_EQ(gone.orphaned, std::vector<VectorId>{id});
  EXPECT_TRUE(gone.became_live.empty());
  EXPECT_EQ(catalog.live_count(model), 0u);
  EXPECT_EQ(catalog.counts().orphaned_contents, 1u);
  EXPECT_TRUE(catalog.paths_of(id).empty());

  // It comes back (restored from the bin): known, with its embedding.
  const auto status = catalog.find_content(hash_of(1), model);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->has_embedding);
  const CommitResult back = catalog.commit({model, {indexed("/p/restored.jpg", 1, 0)}, {}, {}});
  ASSERT_EQ(back.became_live.size(), 1u);
  EXPECT_EQ(back.became_live[0].id, id);
  EXPECT_EQ(back.became_live[0].vector, embedding);
  EXPECT_EQ(catalog.counts().orphaned_contents, 0u);
}

TYPED_TEST(CatalogTest, ModifiedFileMovesItsPathToTheNewContent) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  catalog.commit({model, {indexed("/p/a.jpg", 1, kDim)}, {}, {}});
  const CommitResult edited = catalog.commit({model, {indexed("/p/a.jpg", 2, kDim)}, {}, {}});
  EXPECT_EQ(ids_of(edited.became_live), std::vector<VectorId>{vector_id_for(hash_of(2))});
  EXPECT_EQ(edited.orphaned, std::vector<VectorId>{vector_id_for(hash_of(1))});
  EXPECT_EQ(catalog.vector_id_of("/p/a.jpg"), vector_id_for(hash_of(2)));
}

TYPED_TEST(CatalogTest, TwoModelsKeepSeparateEmbeddingsAndSwitchingBackCostsNothing) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId small = catalog.model("small", "f1", 4);
  const ModelId large = catalog.model("large", "f2", kDim);
  EXPECT_NE(small, large);
  EXPECT_EQ(catalog.model("small", "f1", 4), small);
  EXPECT_THROW(catalog.model("small", "f1", 5), InvalidInput);
  const VectorId id = vector_id_for(hash_of(1));

  catalog.commit({small, {indexed("/p/a.jpg", 1, 4)}, {}, {}});
  // Switch to the large model: the file is known, its content lacks an embedding.
  auto known = catalog.known_files(large);
  EXPECT_EQ(known.at("/p/a.jpg").signature, signature_of(1));
  EXPECT_FALSE(known.at("/p/a.jpg").has_embedding);
  EXPECT_EQ(catalog.live_count(large), 0u);
  EXPECT_FALSE(catalog.find_content(hash_of(1), large)->has_embedding);

  IndexedFile again = indexed("/p/a.jpg", 1, 0);
  again.embedding = vector_of(100, kDim);
  const CommitResult result = catalog.commit({large, {again}, {}, {}});
  EXPECT_EQ(ids_of(result.became_live), std::vector<VectorId>{id});
  EXPECT_EQ(result.became_live[0].vector.size(), static_cast<size_t>(kDim));

  EXPECT_EQ(catalog.embedding(id, small)->size(), 4u);
  EXPECT_EQ(*catalog.embedding(id, large), normalised(vector_of(100, kDim)));
  EXPECT_EQ(catalog.live_count(small), 1u);
  EXPECT_EQ(catalog.live_count(large), 1u);
  // Switching back: everything the small model needs is there.
  EXPECT_TRUE(catalog.known_files(small).at("/p/a.jpg").has_embedding);
  EXPECT_EQ(catalog.counts().embeddings.at(small), 1u);
  EXPECT_EQ(catalog.counts().embeddings.at(large), 1u);
}

TYPED_TEST(CatalogTest, FailedFileIsRecordedWithReasonAndSignatureAndClearedWhenItSucceeds) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  catalog.commit({model, {}, {{"/p/broken.jpg", signature_of(5), "truncated JPEG"}}, {}});

  const auto failed = catalog.failed_files();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].path, "/p/broken.jpg");
  EXPECT_EQ(failed[0].reason, "truncated JPEG");
  EXPECT_EQ(failed[0].signature, signature_of(5));
  const KnownFile known = catalog.known_files(model).at("/p/broken.jpg");
  EXPECT_EQ(known.state, FileState::failed);
  EXPECT_EQ(known.signature, signature_of(5));
  EXPECT_EQ(catalog.file("/p/broken.jpg")->error, "truncated JPEG");
  EXPECT_EQ(catalog.counts().files_failed, 1u);

  // The file changed and now decodes.
  const CommitResult fixed = catalog.commit({model, {indexed("/p/broken.jpg", 1, kDim, 6)}, {}, {}});
  EXPECT_EQ(fixed.became_live.size(), 1u);
  EXPECT_TRUE(catalog.failed_files().empty());
  const auto record = catalog.file("/p/broken.jpg");
  EXPECT_EQ(record->state, FileState::ok);
  EXPECT_EQ(record->error, "");
  EXPECT_EQ(record->signature, signature_of(6));
  EXPECT_EQ(catalog.counts().files_failed, 0u);

  // And breaks again: its content leaves the index.
  const CommitResult broken = catalog.commit({model, {}, {{"/p/broken.jpg", signature_of(7), "bad"}}, {}});
  EXPECT_EQ(broken.orphaned, std::vector<VectorId>{vector_id_for(hash_of(1))});
}

TYPED_TEST(CatalogTest, VectorIdsAreDerivedFromTheHashAndSurviveReopening) {
  std::vector<VectorId> ids;
  {
    Catalog catalog = Catalog::open(this->location);
    const ModelId model = catalog.model("m", "f", kDim);
    catalog.commit({model, {indexed("/p/a.jpg", 1, kDim), indexed("/p/b.jpg", 2, kDim)}, {}, {}});
    ids = {*catalog.vector_id_of("/p/a.jpg"), *catalog.vector_id_of("/p/b.jpg")};
  }
  EXPECT_EQ(ids[0], vector_id_for(hash_of(1)));
  EXPECT_EQ(ids[1], vector_id_for(hash_of(2)));
  EXPECT_GT(ids[0], 0);
  Catalog catalog = Catalog::open(this->location);
  EXPECT_EQ(catalog.vector_id_of("/p/a.jpg"), ids[0]);
  EXPECT_EQ(catalog.vector_id_of("/p/b.jpg"), ids[1]);
}

TYPED_TEST(CatalogTest, ContentsWhoseIdsCollideIn63BitsAreRefused) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  const ContentHash first{0x0123'4567'89ab'cdefULL, 1};
  const ContentHash same_high{0x0123'4567'89ab'cdefULL, 2};
  const ContentHash top_bit_differs{0x8123'4567'89ab'cdefULL, 1};
  ASSERT_EQ(vector_id_for(first), vector_id_for(same_high));
  ASSERT_EQ(vector_id_for(first), vector_id_for(top_bit_differs));
  const VectorId id = vector_id_for(first);

  auto file = [&](const std::string& path, const ContentHash& hash, uint64_t seed) {
    return IndexedFile{path, signature_of(seed), hash, vector_of(seed, kDim)};
  };
  catalog.commit({model, {file("/p/first.jpg", first, 1)}, {}, {}});
  const CommitResult result = catalog.commit(
      {model, {file("/p/collides.jpg", same_high, 2), file("/p/fine.jpg", hash_of(9), 3)}, {}, {}});
  ASSERT_EQ(result.refused.size(), 1u);
  EXPECT_EQ(result.refused[0].path, "/p/collides.jpg");
  EXPECT_NE(result.refused[0].reason.find("collide"), std::string::npos) << result.refused[0].reason;
  EXPECT_NE(result.refused[0].reason.find(same_high.hex()), std::string::npos) << result.refused[0].reason;
  EXPECT_EQ(ids_of(result.became_live), std::vector<VectorId>{vector_id_for(hash_of(9))});

  // Recorded as a failed file; the first content is untouched.
  EXPECT_EQ(catalog.file("/p/collides.jpg")->state, FileState::failed);
  EXPECT_EQ(catalog.paths_of(id), std::vector<std::string>{"/p/first.jpg"});
  EXPECT_EQ(catalog.file("/p/first.jpg")->hash, first);
  EXPECT_EQ(*catalog.embedding(id, model), normalised(vector_of(1, kDim)));
  EXPECT_FALSE(catalog.find_content(same_high, model).has_value());
  EXPECT_EQ(catalog.counts().contents, 2u);

  // Two colliding new contents in one batch: the second is refused.
  const CommitResult both = catalog.commit(
      {model, {file("/p/x.jpg", hash_of(20), 4), file("/p/top.jpg", top_bit_differs, 5)}, {}, {}});
  ASSERT_EQ(both.refused.size(), 1u);
  EXPECT_EQ(both.refused[0].path, "/p/top.jpg");
}

TYPED_TEST(CatalogTest, KnownFilesUnderARootExcludeSiblingsWithTheSamePrefix) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  catalog.commit({model,
                  {indexed("/a/x.jpg", 1, kDim), indexed("/a/sub/y.jpg", 2, kDim), indexed("/ab/z.jpg", 3, kDim),
                   indexed("/b/w.jpg", 4, kDim), indexed("/a", 5, kDim)},
                  {},
                  {}});
  for (const std::string root : {"/a", "/a/"}) {
    const auto known = catalog.known_files(model, root);
    EXPECT_EQ(known.size(), 2u) << root;
    EXPECT_TRUE(known.count("/a/x.jpg")) << root;
    EXPECT_TRUE(known.count("/a/sub/y.jpg")) << root;
  }
  EXPECT_EQ(catalog.paths_under("/a"), (std::vector<std::string>{"/a/sub/y.jpg", "/a/x.jpg"}));
  EXPECT_EQ(catalog.paths_under("").size(), 5u);
  EXPECT_EQ(catalog.known_files(model).size(), 5u);
  EXPECT_EQ(catalog.known_files(model, "/").size(), 5u);
}

TYPED_TEST(CatalogTest, PurgeRemovesOnlyOrphanedContentsAndTheirEmbeddings) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("m", "f", kDim);
  catalog.commit({model, {indexed("/p/a.jpg", 1, kDim), indexed("/p/b.jpg", 2, kDim)}, {}, {}});
  catalog.commit({model, {}, {}, {"/p/a.jpg"}});
  EXPECT_EQ(catalog.purge_orphaned_contents(), 1u);
  EXPECT_FALSE(catalog.find_content(hash_of(1), model).has_value());
  EXPECT_FALSE(catalog.embedding(vector_id_for(hash_of(1)), model).has_value());
  EXPECT_TRUE(catalog.embedding(vector_id_for(hash_of(2)), model).has_value());
  EXPECT_EQ(catalog.counts().embeddings.at(model), 1u);
  EXPECT_EQ(catalog.live_count(model), 1u);
}

TYPED_TEST(CatalogTest, ReadersSeeCommitsOnTheirOwnConnectionAndCannotWrite) {
  Catalog writer = Catalog::open(this->location);
  const ModelId model = writer.model("m", "f", kDim);
  writer.commit({model, {indexed("/p/a.jpg", 1, kDim)}, {}, {}});

  Catalog reader = Catalog::open_read_only(this->location);
  EXPECT_TRUE(reader.read_only());
  EXPECT_EQ(reader.known_files(model).size(), 1u);
  writer.commit({model, {indexed("/p/b.jpg", 2, kDim)}, {}, {}});
  EXPECT_EQ(reader.known_files(model).size(), 2u);
  EXPECT_EQ(reader.generation(), 2u);
  EXPECT_EQ(reader.model("m", "f", kDim), model) << "a known model can be looked up";
  EXPECT_THROW(reader.model("other", "f", kDim), StoreError);
  EXPECT_THROW(reader.commit({model, {indexed("/p/c.jpg", 3, kDim)}, {}, {}}), StoreError);
}

TYPED_TEST(CatalogTest, ACatalogueFromANewerVersionIsRefusedWithAClearMessage) {
  { Catalog catalog = Catalog::open(this->location); }
  const int newer = this->backend.latest_version() + 1;
  this->backend.set_schema_version(newer);
  for (auto open : {&Catalog::open, &Catalog::open_read_only}) {
    try {
      open(this->location);
      FAIL() << "a newer schema should be refused";
    } catch (const StoreError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(this->backend.name()), std::string::npos) << message;
      EXPECT_NE(message.find("schema version " + std::to_string(newer)), std::string::npos) << message;
      EXPECT_NE(message.find("newer"), std::string::npos) << message;
    }
  }
  EXPECT_EQ(this->backend.schema_version(), std::to_string(newer)) << "left as it was";
}

TYPED_TEST(CatalogTest, AReaderNeedsAnExistingCatalogueAtTheLatestVersion) {
  EXPECT_THROW(Catalog::open_read_only(this->backend.missing()), StoreError);
  // A database without our schema (version 0): the writer migrates it.
  this->backend.make_unrelated_database();
  try {
    Catalog::open_read_only(this->location);
    FAIL() << "an unmigrated catalogue should be refused to a reader";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 0, expected"), std::string::npos) << e.what();
  }
  Catalog writer = Catalog::open(this->location);
  EXPECT_EQ(this->backend.schema_version(), std::to_string(this->backend.latest_version()));
  EXPECT_NO_THROW(Catalog::open_read_only(this->location));
}

// ---- No model yet: contents without embeddings ----

// What another service advertised is read back by everyone; SQLite has one
// source, so nothing is recorded and no other service has an address.
TYPED_TEST(CatalogTest, AnAddressIsAdvertisedOnlyWhereOtherServicesShareTheCatalogue) {
  Catalog catalog = Catalog::open(this->location);
  catalog.advertise("http://this-host.lan:7860");
  const bool shared = this->location.backend == CatalogLocation::Backend::postgresql;
  EXPECT_EQ(catalog.source_address(this->location.source),
            shared ? std::optional<std::string>("http://this-host.lan:7860") : std::nullopt);
  EXPECT_EQ(catalog.source_address("nas"), std::nullopt) << "no such service";
  Catalog reader = Catalog::open_read_only(this->location);
  EXPECT_THROW(reader.advertise("http://elsewhere"), StoreError);
}

TYPED_TEST(CatalogTest, WithoutAModelFilesAreRecordedWithTheirContentAndEmbeddedLater) {
  Catalog catalog = Catalog::open(this->location);
  const CommitResult recorded =
      catalog.commit({kNoModel, {indexed("/p/a.jpg", 1, 0), indexed("/p/b.jpg", 2, 0)}, {}, {}});
  EXPECT_EQ(recorded.model, kNoModel);
  EXPECT_TRUE(recorded.became_live.empty()) << "nothing is live without a model";
  EXPECT_EQ(catalog.file("/p/a.jpg")->hash, hash_of(1));
  EXPECT_EQ(catalog.counts().files_ok, 2u);
  EXPECT_EQ(catalog.counts().contents, 2u);

  const ModelId model = catalog.model("ViT-B-32", "sha256:abc", kDim);
  const auto known = catalog.known_files(model);
  EXPECT_EQ(known.at("/p/a.jpg").vector_id, vector_id_for(hash_of(1)));
  EXPECT_FALSE(known.at("/p/a.jpg").has_embedding) << "not settled for a real model";
  EXPECT_FALSE(catalog.known_files(kNoModel).at("/p/b.jpg").has_embedding);
  EXPECT_EQ(catalog.live_count(model), 0u);

  // The model arrives: embedding a recorded file makes it live.
  const CommitResult embedded = catalog.commit({model, {indexed("/p/a.jpg", 1, kDim)}, {}, {}});
  EXPECT_EQ(ids_of(embedded.became_live), std::vector<VectorId>{vector_id_for(hash_of(1))});
  EXPECT_EQ(catalog.live_count(model), 1u);
  EXPECT_TRUE(catalog.known_file(model, "/p/a.jpg")->has_embedding);
  EXPECT_FALSE(catalog.known_file(model, "/p/b.jpg")->has_embedding);
  EXPECT_FALSE(catalog.known_file(model, "/p/none.jpg"));
}

TYPED_TEST(CatalogTest, ABatchWithoutAModelCannotCarryEmbeddings) {
  Catalog catalog = Catalog::open(this->location);
  try {
    catalog.commit({kNoModel, {indexed("/p/a.jpg", 1, kDim)}, {}, {}});
    FAIL() << "an embedding without a model should be refused";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("/p/a.jpg"), std::string::npos) << e.what();
  }
  EXPECT_EQ(catalog.generation(), 0u) << "nothing was written";
  EXPECT_FALSE(catalog.file("/p/a.jpg"));
}

// ---- A file under a new path, found by its stat signature ----

TYPED_TEST(CatalogTest, AFileIsFoundByItsSignatureOkBeforeFailed) {
  Catalog catalog = Catalog::open(this->location);
  const ModelId model = catalog.model("ViT-B-32", "sha256:abc", kDim);
  catalog.commit({model, {indexed("/p/z-ok.jpg", 1, kDim, 5)}, {{"/p/a-failed.jpg", signature_of(5), "bad"}}, {}});

  const auto found = catalog.file_with_signature(signature_of(5));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->path, "/p/z-ok.jpg") << "an ok file is preferred to a failed one";
  EXPECT_EQ(found->hash, hash_of(1));

  // Same device and inode, but the file changed (size or mtime): not the same file.
  StatSignature changed = signature_of(5);
  changed.mtime_ns += 1;
  EXPECT_FALSE(catalog.file_with_signature(changed));
  changed = signature_of(5);
  changed.size += 1;
  EXPECT_FALSE(catalog.file_with_signature(changed));
  EXPECT_FALSE(catalog.file_with_signature(signature_of(6)));
  EXPECT_TRUE(catalog.open_reader().file_with_signature(signature_of(5))) << "readers see it too";
}

// A catalogue written by the previous version (schema 1, as it shipped)
// gains the (device, inode) index on opening, keeps its rows and finds them.
// ---- SQLite only ----

TEST_F(SqliteCatalogTest, NewCatalogueIsInWalMode) {
  { Catalog catalog = Catalog::open(db_file); }
  EXPECT_EQ(sql_text(db_file, "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteCatalogTest, AFileThatIsNotADatabaseIsRefusedWithItsName) {
  {
    std::ofstream garbage(db_file, std::ios::binary);
    garbage << std::string(8192, 'x');
  }
  try {
    Catalog::open(db_file);
    FAIL() << "garbage should be refused";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(db_file.string()), std::string::npos) << message;
    EXPECT_NE(message.find("not a usable SQLite database"), std::string::npos) << message;
    EXPECT_EQ(e.file(), db_file);
  }
  EXPECT_EQ(std::filesystem::file_size(db_file), 8192u) << "the file is left alone";
}

TEST_F(SqliteCatalogTest, ACatalogueOfThePreviousVersionIsMigratedAndKeepsItsFiles) {
  {
    SQLite::Database db(db_file.string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    catalog_schema::configure_connection(db, true);
    catalog_schema::migrate(db, db_file, 1);
    const ContentHash hash = hash_of(3);
    db.exec("INSERT INTO contents VALUES (" + std::to_string(vector_id_for(hash)) + ", '" + hash.hex() + "', 4099)");
    db.exec("INSERT INTO files VALUES ('/p/old.jpg', 1, 1003, 4099, 1700000000000000003, 'ok', " +
            std::to_string(vector_id_for(hash)) + ", NULL)");
    db.exec("UPDATE catalog SET generation = 7");
  }
  ASSERT_EQ(sql_text(db_file, "PRAGMA user_version"), "1");
  ASSERT_EQ(sql_text(db_file, "SELECT count(*) FROM sqlite_master WHERE name = 'files_by_inode'"), "0");

  {
    Catalog catalog = Catalog::open(db_file);
    EXPECT_EQ(catalog.generation(), 7u);
    EXPECT_EQ(catalog.file("/p/old.jpg")->hash, hash_of(3));
    const auto found = catalog.file_with_signature(signature_of(3));
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->path, "/p/old.jpg");
  }
  EXPECT_EQ(sql_text(db_file, "PRAGMA user_version"), std::to_string(Catalog::latest_schema_version()));
  EXPECT_EQ(Catalog::latest_schema_version(), 2);
  EXPECT_EQ(sql_text(db_file, "SELECT count(*) FROM sqlite_master WHERE name = 'files_by_inode'"), "1");
  // The lookup uses the index rather than reading every file row.
  SQLite::Database db(db_file.string(), SQLite::OPEN_READONLY);
  SQLite::Statement plan(db,
                         "EXPLAIN QUERY PLAN SELECT path FROM files WHERE device = 1 AND inode = 2 AND size = 3 "
                         "AND mtime_ns = 4");
  std::string details;
  while (plan.executeStep()) details += plan.getColumn(3).getString() + "\n";
  EXPECT_NE(details.find("files_by_inode"), std::string::npos) << details;
  EXPECT_NO_THROW(Catalog::open_read_only(db_file)) << "readers accept the migrated catalogue";
}

// ---- PostgreSQL only: several services share one database ----

struct PostgresCatalogTest : ::testing::Test {
  test::PostgresBackend backend;
};

TEST_F(PostgresCatalogTest, SourcesShareContentsAndEmbeddingsButEachReconcilesOnlyItsOwnFiles) {
  Catalog laptop = Catalog::open(backend.location("laptop"));
  Catalog nas = Catalog::open(backend.location("nas"));
  const ModelId model = laptop.model("m", "f", kDim);
  EXPECT_EQ(nas.model("m", "f", kDim), model) << "models are shared";
  const VectorId id = vector_id_for(hash_of(1));
  laptop.commit({model, {indexed("/home/p/a.jpg", 1, kDim, 1)}, {}, {}});

  // The NAS finds the same photo: its content and embedding are known, so
  // the pipeline commits it without an embedding (no model call).
  const auto status = nas.find_content(hash_of(1), model);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->has_embedding);
  const CommitResult copied = nas.commit({model, {indexed("/home/p/a.jpg", 1, 0, 2)}, {}, {}});
  EXPECT_TRUE(copied.became_live.empty()) << "already live through the laptop's file";
  EXPECT_EQ(nas.counts().contents, 1u);
  EXPECT_EQ(nas.counts().embeddings.at(model), 1u);
  EXPECT_EQ(nas.counts().files_ok, 2u) << "counts cover every source";

  // Same path on both machines: two files, each seen by its own source.
  EXPECT_EQ(nas.paths_of(id), (std::vector<std::string>{"/home/p/a.jpg", "laptop:/home/p/a.jpg"}));
  EXPECT_EQ(laptop.paths_of(id), (std::vector<std::string>{"/home/p/a.jpg", "nas:/home/p/a.jpg"}));
  EXPECT_EQ(nas.known_files(model).size(), 1u);
  EXPECT_EQ(nas.known_files(model).at("/home/p/a.jpg").signature, signature_of(2));
  EXPECT_EQ(nas.file("/home/p/a.jpg")->signature, signature_of(2));
  EXPECT_FALSE(nas.file_with_signature(signature_of(1))) << "device and inode are the laptop's";
  EXPECT_TRUE(laptop.file_with_signature(signature_of(1)));

  // The laptop deletes its copy: the content stays live (the NAS has it).
  const CommitResult deleted = laptop.commit({model, {}, {}, {"/home/p/a.jpg"}});
  EXPECT_TRUE(deleted.orphaned.empty());
  EXPECT_EQ(nas.live_count(model), 1u);
  EXPECT_TRUE(laptop.paths_under("").empty());
  EXPECT_EQ(nas.paths_under(""), std::vector<std::string>{"/home/p/a.jpg"});
  // The NAS deletes its own: now it leaves the index.
  EXPECT_EQ(nas.commit({model, {}, {}, {"/home/p/a.jpg"}}).orphaned, std::vector<VectorId>{id});
  EXPECT_EQ(laptop.generation(), 4u) << "one generation for every service's commits";
}

// Two services index overlapping folders at the same moment: every content
// and embedding exists once, no commit fails (no duplicate key, no
// deadlock), each content became live exactly once, and the generations
// are one global sequence.
// Each service records its address (or none) when it starts; the others
// read it to send callers for its files there. A restart replaces it.
TEST_F(PostgresCatalogTest, EachSourceAdvertisesItsAddressAndARestartReplacesIt) {
  Catalog laptop = Catalog::open(backend.location("laptop"));
  Catalog nas = Catalog::open(backend.location("nas"));
  EXPECT_EQ(nas.source_address("laptop"), std::nullopt) << "not advertised yet";
  laptop.advertise("http://laptop.lan:7860");
  nas.advertise("");
  EXPECT_EQ(nas.source_address("laptop"), std::optional<std::string>("http://laptop.lan:7860"));
  EXPECT_EQ(laptop.source_address("nas"), std::nullopt) << "the NAS gives no address";
  EXPECT_EQ(backend.sql_text("SELECT count(*) FROM sources WHERE last_seen > now() - interval '1 hour'"), "2")
      << "both recorded with the time they started";

  Catalog reader = Catalog::open_read_only(backend.location("nas"));
  EXPECT_EQ(reader.source_address("laptop"), std::optional<std::string>("http://laptop.lan:7860"));
  laptop.advertise("https://laptop.lan/imgsearchd");
  EXPECT_EQ(reader.source_address("laptop"), std::optional<std::string>("https://laptop.lan/imgsearchd"));
  laptop.advertise("");
  EXPECT_EQ(reader.source_address("laptop"), std::nullopt) << "an address taken out of the configuration goes";
}

// A catalogue made before the sources table (schema version 2) gains it
// when a writer opens it, and keeps its files.
TEST_F(PostgresCatalogTest, ACatalogueWithoutTheSourcesTableIsMigrated) {
  {
    Catalog catalog = Catalog::open(backend.location("laptop"));
    const ModelId model = catalog.model("m", "f", kDim);
    catalog.commit({model, {indexed("/p/a.jpg", 1, kDim, 1)}, {}, {}});
  }
  backend.run_sql("DROP TABLE sources; UPDATE schema_version SET version = 2");
  EXPECT_THROW(Catalog::open_read_only(backend.location("laptop")), StoreError) << "a reader needs the new schema";
  Catalog catalog = Catalog::open(backend.location("laptop"));
  EXPECT_EQ(backend.schema_version(), std::to_string(backend.latest_version()));
  EXPECT_EQ(catalog.paths_of(vector_id_for(hash_of(1))), std::vector<std::string>{"/p/a.jpg"});
  catalog.advertise("http://laptop.lan:7860");
  EXPECT_EQ(catalog.source_address("laptop"), std::optional<std::string>("http://laptop.lan:7860"));
}

// Paths of other services are shown as "<source>:<path>", so a source
// cannot hold a ':'.
TEST_F(PostgresCatalogTest, ASourceWithAColonIsRefusedNamingTheKey) {
  try {
    Catalog::open(backend.location("nas:1"));
    ADD_FAILURE() << "a source with ':' should be refused";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("store.postgresql.source 'nas:1'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_foreign_path("/home/p/a.jpg"), std::nullopt) << "this service's own path";
  const std::optional<SourcePath> foreign = parse_foreign_path("nas:/srv/p/a:b.jpg");
  ASSERT_TRUE(foreign.has_value());
  EXPECT_EQ(foreign->source, "nas");
  EXPECT_EQ(foreign->path, "/srv/p/a:b.jpg");
}

TEST_F(PostgresCatalogTest, TwoWritersCommittingTheSameNewContentsAtOnceEndWithOneOfEach) {
  constexpr int kBatches = 15;
  constexpr int kPerBatch = 8;
  ModelId model = 0;
  {
    Catalog first = Catalog::open(backend.location("first"));
    model = first.model("m", "f", kDim);
  }
  std::vector<std::string> failures(2);
  std::vector<std::vector<uint64_t>> generations(2);
  std::vector<size_t> became_live(2, 0);
  std::atomic<int> ready{0};
  auto writer = [&](int who) {
    try {
      Catalog catalog = Catalog::open(backend.location(who == 0 ? "first" : "second"));
      ready.fetch_add(1);
      while (ready.load() < 2) std::this_thread::yield();
      for (int b = 0; b < kBatches; ++b) {
        Batch batch;
        batch.model = model;
        // Both writers commit the same contents, in opposite orders.
        for (int i = 0; i < kPerBatch; ++i) {
          const int k = who == 0 ? b * kPerBatch + i : (kBatches * kPerBatch - 1) - (b * kPerBatch + i);
          batch.indexed.push_back(indexed("/w" + std::to_string(who) + "/" + std::to_string(k) + ".jpg",
                                          static_cast<uint64_t>(k + 1), kDim, static_cast<uint64_t>(k + 1)));
        }
        const CommitResult result = catalog.commit(batch);
        generations[who].push_back(result.generation);
        became_live[who] += result.became_live.size();
      }
    } catch (const std::exception& e) {
      failures[who] = e.what();
      ready.fetch_add(2);
    }
  };
  std::thread a(writer, 0), b(writer, 1);
  a.join();
  b.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");

  Catalog catalog = Catalog::open(backend.location("first"));
  const CatalogCounts counts = catalog.counts();
  EXPECT_EQ(counts.contents, static_cast<uint64_t>(kBatches * kPerBatch));
  EXPECT_EQ(counts.embeddings.at(model), static_cast<uint64_t>(kBatches * kPerBatch));
  EXPECT_EQ(counts.files_ok, static_cast<uint64_t>(2 * kBatches * kPerBatch));
  EXPECT_EQ(became_live[0] + became_live[1], static_cast<size_t>(kBatches * kPerBatch));
  EXPECT_EQ(catalog.generation(), static_cast<uint64_t>(2 * kBatches));
  std::vector<uint64_t> all = generations[0];
  all.insert(all.end(), generations[1].begin(), generations[1].end());
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1) << "generations are one sequence";
  for (const auto& own : generations) EXPECT_TRUE(std::is_sorted(own.begin(), own.end()));
}

TEST_F(PostgresCatalogTest, ADsnWithAPasswordIsRefusedNamingTheKeyAndNotThePassword) {
  for (const std::string& dsn : {backend.dsn + " password=hunter2", std::string("postgresql://me:hunter2@/db")}) {
    try {
      Catalog::open(CatalogLocation::postgresql(dsn, "this-host"));
      ADD_FAILURE() << "a password in the dsn should be refused";
    } catch (const InvalidInput& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("store.postgresql.dsn"), std::string::npos) << message;
      EXPECT_NE(message.find("password_file"), std::string::npos) << message;
      EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    }
  }
}

// The password comes from store.postgresql.password_file (libpq's passfile
// format), read when connecting; without it the connection is refused, and
// no message carries the password.
TEST_F(PostgresCatalogTest, ThePasswordComesFromThePasswordFile) {
  test::PostgresCluster& cluster = test::PostgresCluster::shared();
  const std::string role = cluster.password_role(backend.database, "s3cret-Pw");
  const std::string dsn = "host=" + cluster.socket_dir().string() + " port=" + std::to_string(cluster.port()) +
                          " user=" + role + " dbname=" + backend.database;
  const std::filesystem::path password_file = backend.dir / "pgpass";
  {
    std::ofstream out(password_file);
    out << "*:*:*:" << role << ":s3cret-Pw\n";
  }
  std::filesystem::permissions(password_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ::setenv("PGPASSFILE", (backend.dir / "no-such-pgpass").c_str(), 1);
  try {
    Catalog::open(CatalogLocation::postgresql(dsn, "this-host"));
    ADD_FAILURE() << "without the password file the connection should be refused";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cannot connect to the catalogue"), std::string::npos) << message;
    EXPECT_NE(message.find("password"), std::string::npos) << message;
  }
  Catalog catalog = Catalog::open(CatalogLocation::postgresql(dsn, "this-host", password_file));
  const ModelId model = catalog.model("m", "f", kDim);
  catalog.commit({model, {indexed("/p/a.jpg", 1, kDim)}, {}, {}});
  EXPECT_EQ(catalog.open_reader().live_count(model), 1u) << "readers read the file too";
  ::unsetenv("PGPASSFILE");
}

TEST_F(PostgresCatalogTest, TheChangeLogRecordsTheContentsEachCommitTouched) {
  Catalog catalog = Catalog::open(backend.location());
  const ModelId model = catalog.model("m", "f", kDim);
  catalog.commit({model, {indexed("/p/a.jpg", 1, kDim), indexed("/p/b.jpg", 2, kDim)}, {}, {}});
  catalog.commit({model, {}, {}, {"/p/a.jpg"}});
  EXPECT_EQ(backend.sql_text("SELECT string_agg(generation || ':' || vector_id, ',' ORDER BY generation, vector_id) "
                             "FROM changes"),
            "1:" + std::to_string(std::min(vector_id_for(hash_of(1)), vector_id_for(hash_of(2)))) + ",1:" +
                std::to_string(std::max(vector_id_for(hash_of(1)), vector_id_for(hash_of(2)))) + ",2:" +
                std::to_string(vector_id_for(hash_of(1))));
}

}  // namespace
}  // namespace imgsearchd
