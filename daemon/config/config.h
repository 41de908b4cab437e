// imgsearchd's configuration: a YAML file, every key documented with its
// default in config.example.yaml. Unknown keys and bad values are errors that
// name the key and the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "indexer/image/image_loader.h"
#include "store/core/catalog_types.h"
#include "store/core/errors.h"

namespace imgsearchd {

// A configuration file that cannot be read, or a bad key or value in it: the
// caller's input is invalid (store/core/errors.h). Names the file and the key.
class ConfigError : public InvalidInput {
 public:
  using InvalidInput::InvalidInput;
};

struct Config {
  std::filesystem::path source_file;  // empty when built from defaults alone

  // Where the catalogue (SQLite) and the vector index live.
  std::filesystem::path data_dir;

  // Where the catalogue lives: SQLite in data_dir (one service), or a
  // PostgreSQL database several services share (README "Several machines").
  struct Store {
    enum class Backend { sqlite, postgresql };
    Backend backend = Backend::sqlite;
    struct Postgresql {
      std::string dsn;                     // libpq connection string, without a password
      std::filesystem::path password_file; // libpq passfile; empty = PGPASSFILE or ~/.pgpass
      std::string source;                  // this service's files' id; empty = the host name
      int follow_interval_s = 2;           // look for other services' commits when none was announced
      // Where the other services sharing the catalogue reach this one's API
      // ("http://nas.lan:7860", no trailing '/'); empty = not advertised.
      std::string advertise_url;
    } postgresql;
  } store;

  struct Model {
    std::string name = "ViT-B-32";       // a known name (see `model list`) or a weights file path
    std::filesystem::path dir;           // where `model pull` puts weights
    std::string device = "cpu";
    int threads = 0;                     // 0 = all cores
    std::string precision = "fp32";      // fp32, bf16 or int8 (ModelOptions::precision)
    int batch_size = 16;
    std::filesystem::path vocabulary;    // empty = the one shipped with imgsearchd
  } model;

  struct Images {
    uint64_t max_pixels = kDefaultMaxPixels;  // decompression-bomb guard
  } images;

  // How a root is watched: inotify (Linux), poll (anywhere, also network
  // file systems), or auto (poll for network file systems, inotify elsewhere).
  enum class WatcherKind { auto_select, inotify, poll };

  // One folder to index and watch. In YAML either a path, or a mapping with
  // `path` and optionally `include`, `exclude` (which replace the indexer-wide
  // lists for this root) and `watcher`.
  struct Root {
    std::filesystem::path path;
    std::optional<std::vector<std::string>> include;  // unset = indexer.include
    std::optional<std::vector<std::string>> exclude;  // unset = indexer.exclude
    std::optional<WatcherKind> watcher;               // unset = watch.kind
  };

  struct Indexer {
    std::vector<Root> roots;
    std::vector<std::string> include;    // glob patterns on the path below a root; empty = all
    std::vector<std::string> exclude;    // glob patterns on the path below a root
    std::vector<std::string> extensions{"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif", "avif"};
    bool skip_hidden = true;             // dot files and folders
    bool skip_clutter = true;            // .DS_Store, ._*, @eaDir, .thumbnails, ...
    bool follow_symlinks = true;         // loop-safe
    int decode_threads = 0;              // 0 = number of cores
    int queue_size = 64;                 // images in flight between stages

    std::vector<std::filesystem::path> root_paths() const;
  } indexer;

  // `imgsearchd serve`: watching the roots and keeping the index live.
  struct Watch {
    WatcherKind kind = WatcherKind::auto_select;
    int settle_delay_ms = 300;           // quiet time before a file that is not closed counts as written
    int poll_interval_s = 10;            // how often polled roots (and folders past the watch limit) are walked
    int reconcile_interval_s = 3600;     // full re-scan of every root; 0 = only at start-up
    int max_pending = 100'000;           // changed paths held at most; past it, a rescan of the root
    int max_watches = 0;                 // inotify watches this service may use; 0 = the kernel's limit
    int model_check_s = 5;               // while the model file is missing, how often to look for it
  } watch;

  // The HTTP API of `imgsearchd serve` (api/server.h).
  struct Api {
    std::string listen = "127.0.0.1:7878";  // HOST:PORT; beyond loopback only with a token
    std::string token;                      // bearer token; empty = none
    std::filesystem::path token_file;       // or a file holding it
    std::vector<std::string> cors_origins;  // web origins allowed to call it; empty = CORS off
    uint64_t max_body_bytes = 32 * 1024 * 1024;
    int threads = 4;                        // requests answered at once
  } api;

  // Defaults for every search (CLI flags and API fields override them).
  struct Search {
    int k = 10;                      // results per page, 1 .. 1000
    double min_score = -1;           // leave out results scoring below this (cosine, -1 .. 1); -1 = none
    int pool = 200;                  // candidates reranked when collapse, diversity or normalise is on
    double collapse = 0;             // near-duplicate collapsing similarity, (0, 1]; 0 = off
    double diversity = 0;            // maximal-marginal-relevance weight, 0 (relevance) .. 1
    std::string normalise = "none";  // score normalisation: none, minmax
    // The vector index (store/faiss/vector_index.h): flat (exact) or ivf
    // (approximate; nlist lists, 0 = about sqrt(images); nprobe scanned per query).
    std::string index = "flat";
    int nlist = 0;
    int nprobe = 32;
  } search;

  struct Log {
    std::string level = "info";          // trace, debug, info, warn, error
  } log;
};

// Defaults: data in $XDG_DATA_HOME/imgsearchd (~/.local/share/imgsearchd),
// models in <data_dir>/models.
Config default_config();

// Reads a YAML file over the defaults. Throws ConfigError naming the file and key.
Config load_config(const std::filesystem::path& file);

// --config if given, else $IMGSEARCHD_CONFIG, else ~/.config/imgsearchd/config.yaml
// if it exists; otherwise the defaults.
Config load_config_for_cli(const std::filesystem::path& explicit_file);

// The indexer-wide include and exclude lists, or the root's own.
const std::vector<std::string>& root_include(const Config& config, const Config::Root& root);
const std::vector<std::string>& root_exclude(const Config& config, const Config::Root& root);
// The root's watcher kind, or watch.kind.
Config::WatcherKind root_watcher(const Config& config, const Config::Root& root);
const char* watcher_kind_name(Config::WatcherKind kind);

// The catalogue this configuration names (store.*), with this service's
// source id (store.postgresql.source, or the host name).
CatalogLocation catalog_location(const Config& config);

// What is wrong with `url` as store.postgresql.advertise_url (empty when
// nothing): empty (not advertised), or an http:// or https:// URL with a host, an optional port and
// path, and no user name, password, query or fragment.
std::string advertise_url_problem(const std::string& url);
// The host of a valid advertise_url, as a Host header names it ("nas.lan",
// "192.168.1.20", "fd00::7" without its brackets); empty for an empty url.
std::string advertise_url_host(const std::string& url);

// Expands a leading ~ and $HOME.
std::filesystem::path expand_user_path(const std::string& path);

}  // namespace imgsearchd
