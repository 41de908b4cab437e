// Loads config.yaml over the defaults. Every key is checked: an unknown key, a
// value of the wrong type or out of range is a ConfigError naming the file and
// the key's full dotted name, so a typo never silently falls back to a default.
#include "daemon/config/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <functional>
#include <set>

namespace imgsearchd {
namespace {

std::filesystem::path env_path(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? std::filesystem::path(value) : std::filesystem::path();
}

std::filesystem::path home_dir() {
  auto home = env_path("HOME");
  return home.empty() ? std::filesystem::path("/") : home;
}

// Reads the keys of one YAML mapping, remembering which were consumed so the
// leftovers can be reported as unknown.
class Section {
 public:
  Section(const YAML::Node& node, std::string prefix, const std::filesystem::path& file)
      : node_(node), prefix_(std::move(prefix)), file_(file) {
    if (node_ && !node_.IsNull() && !node_.IsMap())
      fail(prefix_.empty() ? "the file" : prefix_, "must be a mapping of keys to values");
  }

  template <typename T>
  void read(const std::string& key, T& out, std::function<std::string(const T&)> check = nullptr) {
    known_.insert(key);
    if (!node_ || node_.IsNull() || !node_[key] || node_[key].IsNull()) return;
    T value;
    try {
      value = node_[key].as<T>();
    } catch (const YAML::Exception&) {
      fail(name(key), "has the wrong type (" + type_name(out) + " expected)");
    }
    if (check) {
      std::string problem = check(value);
      if (!problem.empty()) fail(name(key), problem);
    }
    out = std::move(value);
  }

  void read_path(const std::string& key, std::filesystem::path& out) {
    std::string text;
    read(key, text);
    if (!text.empty()) out = expand_user_path(text);
  }

  void read_paths(const std::string& key, std::vector<std::filesystem::path>& out) {
    std::vector<std::string> texts;
    read(key, texts);
    if (!texts.empty()) {
      out.clear();
      for (const auto& t : texts) out.push_back(expand_user_path(t));
    }
  }

  Section child(const std::string& key) {
    known_.insert(key);
    return Section(node_ ? node_[key] : YAML::Node(), name(key), file_);
  }

  // Call after every read: reports the first key nobody asked for.
  void reject_unknown_keys() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& item : node_) {
      auto key = item.first.as<std::string>();
      if (!known_.count(key)) {
        std::string known;
        for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
        fail(name(key), "is not a known key (known here: " + known + ")");
      }
    }
  }

 private:
  std::string name(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(file_.string() + ": '" + key + "' " + problem);
  }

  template <typename T>
  static std::string type_name(const T&) {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    if constexpr (std::is_integral_v<T>) return "a whole number";
    if constexpr (std::is_floating_point_v<T>) return "a number";
    if constexpr (std::is_same_v<T, std::string>) return "a text";
    return "a list of texts";
  }

  YAML::Node node_;
  std::string prefix_;
  std::filesystem::path file_;
  std::set<std::string> known_;
};

std::function<std::string(const int&)> at_least(int minimum) {
  return [minimum](const int& v) {
    return v >= minimum ? std::string() : "must be at least " + std::to_string(minimum) + ", got " + std::to_string(v);
  };
}

std::function<std::string(const std::string&)> one_of(std::set<std::string> allowed) {
  return [allowed](const std::string& v) {
    if (allowed.count(v)) return std::string();
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return "must be one of " + list + ", got '" + v + "'";
  };
}

std::string check_device(const std::string& v) {
  if (v == "cpu" || v == "cuda" || v.rfind("cuda:", 0) == 0) return {};
  return "must be cpu, cuda or cuda:N, got '" + v + "'";
}

}  // namespace

std::filesystem::path expand_user_path(const std::string& path) {
  if (path == "~") return home_dir();
  if (path.rfind("~/", 0) == 0) return home_dir() / path.substr(2);
  if (path.rfind("$HOME/", 0) == 0) return home_dir() / path.substr(6);
  return path;
}

Config default_config() {
  Config config;
  auto data_home = env_path("XDG_DATA_HOME");
  if (data_home.empty()) data_home = home_dir() / ".local" / "share";
  config.data_dir = data_home / "imgsearchd";
  config.model.dir = config.data_dir / "models";
  return config;
}

Config load_config(const std::filesystem::path& file) {
  Config config = default_config();
  config.source_file = file;
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw ConfigError(file.string() + ": cannot read the configuration file");
  } catch (const YAML::Exception& e) {
    throw ConfigError(file.string() + ": not valid YAML: " + e.what());
  }

  Section top(root, "", file);
  bool model_dir_given = false;
  top.read_path("data_dir", config.data_dir);

  Section model = top.child("model");
  model.read("name", config.model.name);
  {
    std::string dir;
    model.read("dir", dir);
    if (!dir.empty()) {
      config.model.dir = expand_user_path(dir);
      model_dir_given = true;
    }
  }
  model.read<std::string>("device", config.model.device, check_device);
  model.read<int>("threads", config.model.threads, at_least(0));
  model.read<int>("batch_size", config.model.batch_size, at_least(1));
  model.read_path("vocabulary", config.model.vocabulary);
  model.reject_unknown_keys();

  Section images = top.child("images");
  images.read("max_pixels", config.images.max_pixels);
  images.reject_unknown_keys();

  Section indexer = top.child("indexer");
  indexer.read_paths("roots", config.indexer.roots);
  indexer.read("include", config.indexer.include);
  indexer.read("exclude", config.indexer.exclude);
  indexer.read("extensions", config.indexer.extensions);
  indexer.read("skip_hidden", config.indexer.skip_hidden);
  indexer.read("skip_clutter", config.indexer.skip_clutter);
  indexer.read("follow_symlinks", config.indexer.follow_symlinks);
  indexer.read<int>("decode_threads", config.indexer.decode_threads, at_least(0));
  indexer.read<int>("queue_size", config.indexer.queue_size, at_least(1));
  indexer.reject_unknown_keys();

  Section search = top.child("search");
  search.read<int>("pool", config.search.pool, [](const int& v) {
    return v >= 1 && v <= 10000 ? std::string() : "must be between 1 and 10000, got " + std::to_string(v);
  });
  search.read<double>("collapse", config.search.collapse, [](const double& v) {
    return v >= 0 && v <= 1 ? std::string() : "must be 0 (off) or a similarity up to 1, got " + std::to_string(v);
  });
  search.read<double>("diversity", config.search.diversity, [](const double& v) {
    return v >= 0 && v <= 1 ? std::string() : "must be between 0 and 1, got " + std::to_string(v);
  });
  search.read<std::string>("normalise", config.search.normalise, one_of({"none", "minmax"}));
  search.reject_unknown_keys();

  Section log = top.child("log");
  log.read<std::string>("level", config.log.level, one_of({"trace", "debug", "info", "warn", "error"}));
  log.reject_unknown_keys();

  top.reject_unknown_keys();
  if (!model_dir_given) config.model.dir = config.data_dir / "models";
  return config;
}

Config load_config_for_cli(const std::filesystem::path& explicit_file) {
  if (!explicit_file.empty()) return load_config(explicit_file);
  auto from_env = env_path("IMGSEARCHD_CONFIG");
  if (!from_env.empty()) return load_config(from_env);
  auto config_home = env_path("XDG_CONFIG_HOME");
  if (config_home.empty()) config_home = home_dir() / ".config";
  auto user_file = config_home / "imgsearchd" / "config.yaml";
  if (std::filesystem::exists(user_file)) return load_config(user_file);
  return default_config();
}

}  // namespace imgsearchd
