// The CLIP models imgsearchd knows by name: where OpenAI publishes them and
// the SHA-256 published with them; and how a model setting (a known name or a
// weights file path) becomes a file on disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/weights/model_download.h"

namespace imgsearchd {

struct KnownModel {
  std::string name;         // imgsearchd's name, also the file stem: "ViT-B-32"
  std::string openai_name;  // the name in OpenAI's clip.py: "ViT-B/32"
  std::string file_name;    // as published: "ViT-B-32.pt"
  std::string url;          // OpenAI's official download URL
  std::string sha256;       // lower-case hex, the second-to-last segment of url
};

// Every known model, in a stable order.
const std::vector<KnownModel>& known_models();

// "ViT-B-32, ViT-B-16, ViT-L-14": the known names, for messages.
std::string known_model_names();

// Looks a name up: imgsearchd's ("ViT-B-32") or OpenAI's ("ViT-B/32").
// Returns nullptr for an unknown name.
const KnownModel* find_known_model(std::string_view name);

// Where weights live when the configuration names no folder:
// $XDG_DATA_HOME/imgsearchd/models, else ~/.local/share/imgsearchd/models.
std::filesystem::path default_models_dir();

// The configured folder, or default_models_dir() when it is empty.
std::filesystem::path models_dir_or_default(const std::filesystem::path& configured);

// Where a known model's weights are expected inside models_dir.
std::filesystem::path known_model_path(const KnownModel& model, const std::filesystem::path& models_dir);

// Turns a model setting into the weights file to load:
//  - a known name → <models_dir>/<file_name>, which must exist;
//  - anything else is a path to a weights file: as given (relative to the
//    current folder), or else inside models_dir.
// Throws ModelError (indexer/model/clip_model.h) naming the setting, what was
// looked for and how to get it (`imgsearchd model pull NAME`, or the full
// path where a file obtained elsewhere belongs). Does not hash the file:
// `model pull` verifies it once, `model list --verify` on demand.
std::filesystem::path resolve_model_path(const std::string& setting, const std::filesystem::path& models_dir);

// What `model pull` was asked for: a known name (fetched from --url, a
// mirror, when given; always checked against the published SHA-256), or
// another file by --url and --sha256 without a name.
struct PullSpec {
  std::string name;
  std::string url;
  std::string sha256;
};

// The download that fetches `spec` into `models_dir`. Throws NotFound for an
// unknown name, InvalidInput for options that do not go together or a
// malformed checksum or URL.
DownloadRequest pull_request(const PullSpec& spec, const std::filesystem::path& models_dir);

// "http://host/a/b/ViT-B-32.pt?x=1" -> "ViT-B-32.pt"; empty when the URL
// names no file.
std::string file_name_of_url(const std::string& url);

// What the models folder holds for a known model.
struct ModelFileStatus {
  enum class State {
    present,       // the file is there (not checked)
    verified,      // the file is there with its published SHA-256
    bad_checksum,  // the file is there with another SHA-256 (found_sha256)
    partial,       // only a partial download (partial_bytes so far)
    missing,
  };
  State state = State::missing;
  std::filesystem::path path;  // where the weights belong
  std::string found_sha256;
  uint64_t partial_bytes = 0;
};

// verify: read the file and check its SHA-256 (else only its presence).
ModelFileStatus model_file_status(const KnownModel& model, const std::filesystem::path& models_dir, bool verify);

}  // namespace imgsearchd
