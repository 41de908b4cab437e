// imgsearchd's configuration: a YAML file, every key documented with its
// default in config.example.yaml. Unknown keys and bad values are errors that
// name the key and the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace imgsearchd {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Config {
  std::filesystem::path source_file;  // empty when built from defaults alone

  // Where the catalogue (SQLite) and the vector index live.
  std::filesystem::path data_dir;

  struct Model {
    std::string name = "ViT-B-32";       // a known name (see `model list`) or a weights file path
    std::filesystem::path dir;           // where `model pull` puts weights
    std::string device = "cpu";
    int threads = 0;                     // 0 = all cores
    int batch_size = 16;
    std::filesystem::path vocabulary;    // empty = the one shipped with imgsearchd
  } model;

  struct Images {
    uint64_t max_pixels = 178'956'970;   // decompression-bomb guard
  } images;

  struct Indexer {
    std::vector<std::filesystem::path> roots;
    std::vector<std::string> include;    // glob patterns on the path below a root; empty = all
    std::vector<std::string> exclude;    // glob patterns on the path below a root
    std::vector<std::string> extensions{"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif", "avif"};
    bool skip_hidden = true;             // dot files and folders
    bool skip_clutter = true;            // .DS_Store, ._*, @eaDir, .thumbnails, ...
    bool follow_symlinks = true;         // loop-safe
    int decode_threads = 0;              // 0 = number of cores
    int queue_size = 64;                 // images in flight between stages
  } indexer;

  // Defaults for every search (CLI flags and API fields override them).
  struct Search {
    int pool = 200;                  // candidates reranked when collapse, diversity or normalise is on
    double collapse = 0;             // near-duplicate collapsing similarity, (0, 1]; 0 = off
    double diversity = 0;            // maximal-marginal-relevance weight, 0 (relevance) .. 1
    std::string normalise = "none";  // score normalisation: none, minmax
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

// Expands a leading ~ and $HOME.
std::filesystem::path expand_user_path(const std::string& path);

}  // namespace imgsearchd
