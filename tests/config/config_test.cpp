// The configuration file: the documented example loads and equals the
// defaults, and every mistake names the file and the key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "daemon/config/config.h"

namespace fs = std::filesystem;
using imgsearchd::CatalogLocation;
using imgsearchd::Config;
using imgsearchd::ConfigError;
using imgsearchd::catalog_location;
using imgsearchd::load_config;

namespace {

fs::path write_config(const std::string& name, const std::string& text) {
  fs::path dir = fs::path(IMGSEARCHD_TEST_WORK_DIR) / "config";
  fs::create_directories(dir);
  fs::path file = dir / name;
  std::ofstream(file) << text;
  return file;
}

std::string error_of(const fs::path& file) {
  try {
    load_config(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Config, ExampleFileLoadsAndMatchesTheDefaults) {
  setenv("HOME", "/home/someone", 1);
  unsetenv("XDG_DATA_HOME");
  Config example = load_config(fs::path(IMGSEARCHD_SOURCE_DIR) / "config.example.yaml");
  Config defaults = imgsearchd::default_config();
  EXPECT_EQ(example.data_dir, defaults.data_dir);
  EXPECT_EQ(example.data_dir, fs::path("/home/someone/.local/share/imgsearchd"));
  EXPECT_EQ(example.model.dir, defaults.model.dir);
  EXPECT_EQ(example.model.name, defaults.model.name);
  EXPECT_EQ(example.model.threads, defaults.model.threads);
  EXPECT_EQ(example.model.batch_size, defaults.model.batch_size);
  EXPECT_EQ(example.images.max_pixels, defaults.images.max_pixels);
  EXPECT_EQ(example.indexer.extensions, defaults.indexer.extensions);
  EXPECT_EQ(example.indexer.skip_hidden, defaults.indexer.skip_hidden);
  EXPECT_EQ(example.indexer.skip_clutter, defaults.indexer.skip_clutter);
  EXPECT_EQ(example.indexer.queue_size, defaults.indexer.queue_size);
  EXPECT_EQ(example.log.level, defaults.log.level);
  EXPECT_EQ(example.model.precision, defaults.model.precision);
  EXPECT_EQ(example.watch.kind, defaults.watch.kind);
  EXPECT_EQ(example.watch.settle_delay_ms, defaults.watch.settle_delay_ms);
  EXPECT_EQ(example.watch.poll_interval_s, defaults.watch.poll_interval_s);
  EXPECT_EQ(example.watch.reconcile_interval_s, defaults.watch.reconcile_interval_s);
  EXPECT_EQ(example.watch.max_pending, defaults.watch.max_pending);
  EXPECT_EQ(example.watch.max_watches, defaults.watch.max_watches);
  EXPECT_EQ(example.watch.model_check_s, defaults.watch.model_check_s);
  EXPECT_EQ(example.api.listen, defaults.api.listen);
  EXPECT_EQ(example.api.token, defaults.api.token);
  EXPECT_EQ(example.api.token_file, defaults.api.token_file);
  EXPECT_EQ(example.api.cors_origins, defaults.api.cors_origins);
  EXPECT_EQ(example.api.max_body_bytes, defaults.api.max_body_bytes);
  EXPECT_EQ(example.api.threads, defaults.api.threads);
  EXPECT_EQ(example.search.pool, defaults.search.pool);
  EXPECT_EQ(example.search.collapse, defaults.search.collapse);
  EXPECT_EQ(example.search.diversity, defaults.search.diversity);
  EXPECT_EQ(example.search.normalise, defaults.search.normalise);
  EXPECT_EQ(example.search.index, defaults.search.index);
  EXPECT_EQ(example.search.nlist, defaults.search.nlist);
  EXPECT_EQ(example.search.nprobe, defaults.search.nprobe);
  EXPECT_EQ(example.store.backend, defaults.store.backend);
  EXPECT_EQ(example.store.postgresql.dsn, defaults.store.postgresql.dsn);
  EXPECT_EQ(example.store.postgresql.password_file, defaults.store.postgresql.password_file);
  EXPECT_EQ(example.store.postgresql.source, defaults.store.postgresql.source);
  EXPECT_EQ(example.store.postgresql.follow_interval_s, defaults.store.postgresql.follow_interval_s);
  EXPECT_EQ(example.store.postgresql.advertise_url, defaults.store.postgresql.advertise_url);
  EXPECT_EQ(defaults.store.postgresql.advertise_url, "") << "never guessed from api.listen";
}

// store.postgresql.advertise_url: where the other services sharing the
// catalogue send callers for this one's files. An http(s) URL with a host;
// a mistake names the key and the file.
TEST(Config, TheAdvertisedUrlIsAnHttpUrlWithAHostAndItsMistakesAreNamed) {
  const auto advertised = [](const std::string& name, const std::string& url) {
    return write_config(name, "store:\n  backend: postgresql\n  postgresql:\n    dsn: 'dbname=photos'\n"
                              "    source: nas\n    advertise_url: '" + url + "'\n");
  };
  EXPECT_EQ(load_config(advertised("url-plain.yaml", "http://nas.lan:7860")).store.postgresql.advertise_url,
            "http://nas.lan:7860");
  EXPECT_EQ(load_config(advertised("url-path.yaml", "https://photos.example.org/imgsearchd/"))
                .store.postgresql.advertise_url,
            "https://photos.example.org/imgsearchd")
      << "the trailing '/' goes: routes are appended to it";
  EXPECT_EQ(load_config(advertised("url-v6.yaml", "http://[fd00::7]:7860")).store.postgresql.advertise_url,
            "http://[fd00::7]:7860");
  EXPECT_EQ(load_config(advertised("url-v4.yaml", "http://192.168.1.20")).store.postgresql.advertise_url,
            "http://192.168.1.20");
  // The name the service then accepts in Host headers.
  EXPECT_EQ(imgsearchd::advertise_url_host("http://nas.lan:7860"), "nas.lan");
  EXPECT_EQ(imgsearchd::advertise_url_host("https://photos.example.org/imgsearchd"), "photos.example.org");
  EXPECT_EQ(imgsearchd::advertise_url_host("http://[fd00::7]:7860"), "fd00::7");
  EXPECT_EQ(imgsearchd::advertise_url_host("http://192.168.1.20"), "192.168.1.20");
  EXPECT_EQ(imgsearchd::advertise_url_host(""), "");

  const std::pair<const char*, const char*> bad[] = {
      {"nas.lan:7860", "http:// or https://"},
      {"ftp://nas.lan", "http:// or https://"},
      {"http://", "must name a host"},
      {"http://:7860", "must name a host"},
      {"http://me:hunter2@nas.lan", "user name or password"},
      {"http://nas.lan:99999", "port"},
      {"http://nas.lan:", "port"},
      {"http://nas.lan/?x=1", "query"},
      {"http://nas lan", "spaces"},
  };
  int i = 0;
  for (const auto& [url, why] : bad) {
    const fs::path file = advertised("url-bad-" + std::to_string(i++) + ".yaml", url);
    const std::string message = error_of(file);
    EXPECT_NE(message.find("'store.postgresql.advertise_url'"), std::string::npos) << url << ": " << message;
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find(why), std::string::npos) << url << ": " << message;
  }
  const std::string userinfo = error_of(advertised("url-userinfo.yaml", "http://me:hunter2@nas.lan"));
  EXPECT_EQ(userinfo.find("hunter2"), std::string::npos) << "the password is not repeated: " << userinfo;

  const std::string colon = error_of(write_config(
      "source-colon.yaml", "store:\n  postgresql:\n    dsn: 'dbname=photos'\n    source: 'nas:1'\n"));
  EXPECT_NE(colon.find("'store.postgresql.source'"), std::string::npos) << colon;
  EXPECT_NE(colon.find("':'"), std::string::npos) << colon;
}

TEST(Config, StoreKeysNameThePostgresqlCatalogueAndRefuseAPasswordInTheDsn) {
  setenv("HOME", "/home/someone", 1);
  const Config sqlite = load_config(write_config("sqlite.yaml", "data_dir: /data\n"));
  EXPECT_EQ(catalog_location(sqlite).backend, CatalogLocation::Backend::sqlite);
  EXPECT_EQ(catalog_location(sqlite).sqlite_file, fs::path("/data/catalog.db"));

  const Config postgresql = load_config(write_config(
      "pg.yaml",
      "store:\n  backend: postgresql\n  postgresql:\n    dsn: 'host=db.lan dbname=photos user=me'\n"
      "    password_file: ~/.imgsearchd-pgpass\n    source: nas\n    follow_interval_s: 30\n"));
  EXPECT_EQ(postgresql.store.postgresql.follow_interval_s, 30);
  const CatalogLocation location = catalog_location(postgresql);
  EXPECT_EQ(location.backend, CatalogLocation::Backend::postgresql);
  EXPECT_EQ(location.dsn, "host=db.lan dbname=photos user=me");
  EXPECT_EQ(location.password_file, fs::path("/home/someone/.imgsearchd-pgpass"));
  EXPECT_EQ(location.source, "nas");
  const Config unnamed = load_config(
      write_config("unnamed.yaml", "store:\n  backend: postgresql\n  postgresql:\n    dsn: 'dbname=photos'\n"));
  EXPECT_FALSE(catalog_location(unnamed).source.empty()) << "the host name";

  const std::string no_dsn = error_of(write_config("no-dsn.yaml", "store:\n  backend: postgresql\n"));
  EXPECT_NE(no_dsn.find("store.postgresql.dsn"), std::string::npos) << no_dsn;
  const std::string password = error_of(write_config(
      "password.yaml", "store:\n  backend: postgresql\n  postgresql:\n    dsn: 'dbname=x password=hunter2'\n"));
  EXPECT_NE(password.find("store.postgresql.dsn"), std::string::npos) << password;
  EXPECT_NE(password.find("password_file"), std::string::npos) << password;
  EXPECT_EQ(password.find("hunter2"), std::string::npos) << password;
  const std::string uri = error_of(write_config(
      "uri.yaml", "store:\n  postgresql:\n    dsn: 'postgresql://me:hunter2@db.lan/photos'\n"));
  EXPECT_NE(uri.find("store.postgresql.dsn"), std::string::npos) << uri;
  EXPECT_EQ(uri.find("hunter2"), std::string::npos) << uri;
  const std::string backend = error_of(write_config("backend.yaml", "store:\n  backend: mysql\n"));
  EXPECT_NE(backend.find("store.backend"), std::string::npos) << backend;
}

TEST(Config, RootsArePathsOrMappingsWithTheirOwnFiltersAndWatcher) {
  auto file = write_config("roots.yaml",
                           "indexer:\n"
                           "  exclude: ['*.tmp.jpg']\n"
                           "  roots:\n"
                           "    - /media/plain\n"
                           "    - path: ~/Phone\n"
                           "      include: [DCIM]\n"
                           "      exclude: []\n"
                           "      watcher: poll\n"
                           "watch: {kind: inotify, settle_delay_ms: 50, reconcile_interval_s: 0}\n");
  setenv("HOME", "/home/someone", 1);
  Config c = load_config(file);
  ASSERT_EQ(c.indexer.roots.size(), 2u);
  const Config::Root& plain = c.indexer.roots[0];
  const Config::Root& phone = c.indexer.roots[1];
  EXPECT_EQ(plain.path, fs::path("/media/plain"));
  EXPECT_EQ(imgsearchd::root_exclude(c, plain), std::vector<std::string>{"*.tmp.jpg"});
  EXPECT_EQ(imgsearchd::root_watcher(c, plain), Config::WatcherKind::inotify);
  EXPECT_EQ(phone.path, fs::path("/home/someone/Phone"));
  EXPECT_EQ(imgsearchd::root_include(c, phone), std::vector<std::string>{"DCIM"});
  EXPECT_TRUE(imgsearchd::root_exclude(c, phone).empty()) << "an empty list replaces the indexer-wide one";
  EXPECT_EQ(imgsearchd::root_watcher(c, phone), Config::WatcherKind::poll);
  EXPECT_EQ(c.watch.settle_delay_ms, 50);
  EXPECT_EQ(c.watch.reconcile_interval_s, 0);
  EXPECT_EQ(c.indexer.root_paths(), (std::vector<fs::path>{"/media/plain", "/home/someone/Phone"}));
}

TEST(Config, BadRootsAndWatchValuesAreNamed) {
  EXPECT_NE(error_of(write_config("root-key.yaml", "indexer:\n  roots:\n    - {path: /a, exlude: [x]}\n"))
                .find("'indexer.roots[0].exlude' is not a known key"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("root-path.yaml", "indexer:\n  roots:\n    - /a\n    - {include: [x]}\n"))
                .find("'indexer.roots[1].path' is required"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("root-watcher.yaml", "indexer:\n  roots:\n    - {path: /a, watcher: fsevents}\n"))
                .find("'indexer.roots[0].watcher' must be one of auto, inotify, poll"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("roots-map.yaml", "indexer:\n  roots: {path: /a}\n")).find("'indexer.roots' must be a list"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("watch-kind.yaml", "watch: {kind: fast}\n")).find("'watch.kind' must be one of"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("settle.yaml", "watch: {settle_delay_ms: -1}\n")).find("'watch.settle_delay_ms' must be at least 0"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("listen.yaml", "api: {listen: 7878}\n")).find("'api.listen' must be HOST:PORT"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("watch-typo.yaml", "watch: {settle: 5}\n")).find("'watch.settle' is not a known key"),
            std::string::npos);
}

TEST(Config, ValuesOverrideDefaultsAndModelDirFollowsDataDir) {
  auto file = write_config("ok.yaml",
                           "data_dir: /srv/imgs\n"
                           "model: {threads: 2, batch_size: 8, device: cuda:1, precision: bf16}\n"
                           "indexer:\n  roots: [~/Pictures, /media/photos]\n  exclude: ['**/raw/**']\n");
  setenv("HOME", "/home/someone", 1);
  Config c = load_config(file);
  EXPECT_EQ(c.data_dir, fs::path("/srv/imgs"));
  EXPECT_EQ(c.model.dir, fs::path("/srv/imgs/models"));
  EXPECT_EQ(c.model.threads, 2);
  EXPECT_EQ(c.model.batch_size, 8);
  EXPECT_EQ(c.model.device, "cuda:1");
  EXPECT_EQ(c.model.precision, "bf16");
  EXPECT_EQ(load_config(write_config("int8.yaml", "model: {precision: int8}\n")).model.precision, "int8");
  ASSERT_EQ(c.indexer.roots.size(), 2u);
  EXPECT_EQ(c.indexer.roots[0].path, fs::path("/home/someone/Pictures"));
  EXPECT_EQ(c.indexer.exclude, std::vector<std::string>{"**/raw/**"});
}

TEST(Config, UnknownKeyIsNamedWithTheFile) {
  auto file = write_config("typo.yaml", "model:\n  thread: 4\n");
  std::string error = error_of(file);
  EXPECT_NE(error.find("typo.yaml"), std::string::npos) << error;
  EXPECT_NE(error.find("'model.thread'"), std::string::npos) << error;
  EXPECT_NE(error.find("threads"), std::string::npos) << "should list the known keys: " << error;
}

TEST(Config, WrongTypeAndOutOfRangeValuesAreNamed) {
  EXPECT_NE(error_of(write_config("type.yaml", "model: {batch_size: lots}\n")).find("'model.batch_size' has the wrong type"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("range.yaml", "model: {batch_size: 0}\n")).find("'model.batch_size' must be at least 1"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("device.yaml", "model: {device: tpu}\n")).find("'model.device' must be cpu"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("precision.yaml", "model: {precision: fp16}\n"))
                .find("'model.precision' must be fp32, bf16 or int8, got 'fp16'"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("level.yaml", "log: {level: loud}\n")).find("'log.level' must be one of"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("section.yaml", "model: 3\n")).find("'model' must be a mapping"), std::string::npos);
}

TEST(Config, BrokenYamlAndMissingFileAreNamed) {
  EXPECT_NE(error_of(write_config("broken.yaml", "model: [unclosed\n")).find("not valid YAML"), std::string::npos);
  std::string missing = error_of("/nonexistent/imgsearchd.yaml");
  EXPECT_NE(missing.find("/nonexistent/imgsearchd.yaml: cannot read"), std::string::npos) << missing;
}

TEST(Config, SearchDefaultsAreReadAndCheckedByKey) {
  const Config c = load_config(write_config("search.yaml", "search:\n  pool: 50\n  collapse: 0.94\n"
                                                           "  diversity: 0.25\n  normalise: minmax\n"));
  EXPECT_EQ(c.search.pool, 50);
  EXPECT_DOUBLE_EQ(c.search.collapse, 0.94);
  EXPECT_DOUBLE_EQ(c.search.diversity, 0.25);
  EXPECT_EQ(c.search.normalise, "minmax");
  EXPECT_NE(error_of(write_config("s1.yaml", "search:\n  pool: 0\n")).find("'search.pool' must be between 1 and 10000"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("s2.yaml", "search:\n  collapse: 1.5\n")).find("'search.collapse'"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("s3.yaml", "search:\n  diversity: lots\n")).find("'search.diversity' has the wrong type (a number"),
            std::string::npos);
  EXPECT_NE(error_of(write_config("s4.yaml", "search:\n  normalise: zscore\n")).find("must be one of minmax, none"),
            std::string::npos);
}

TEST(Config, TheVectorIndexKindAndItsParametersAreReadAndCheckedByKey) {
  EXPECT_EQ(imgsearchd::default_config().search.index, "flat");
  const Config c = load_config(write_config("index.yaml", "search:\n  index: ivf\n  nlist: 1024\n  nprobe: 16\n"));
  EXPECT_EQ(c.search.index, "ivf");
  EXPECT_EQ(c.search.nlist, 1024);
  EXPECT_EQ(c.search.nprobe, 16);
  const std::string kind = error_of(write_config("i1.yaml", "search:\n  index: hnsw\n"));
  EXPECT_NE(kind.find("i1.yaml: 'search.index' must be one of flat, ivf, got 'hnsw'"), std::string::npos) << kind;
  const std::string nprobe = error_of(write_config("i2.yaml", "search:\n  nprobe: 0\n"));
  EXPECT_NE(nprobe.find("'search.nprobe' must be at least 1, got 0"), std::string::npos) << nprobe;
  const std::string nlist = error_of(write_config("i3.yaml", "search:\n  nlist: -5\n"));
  EXPECT_NE(nlist.find("'search.nlist' must be 0"), std::string::npos) << nlist;
}
