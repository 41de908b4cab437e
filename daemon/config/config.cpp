// Loads config.yaml over the defaults. Every key is checked: an unknown key, a
// value of the wrong type or out of range is a ConfigError naming the file and
// the key's full dotted name, so a typo never silently falls back to a default.
#include "daemon/config/config.h"

#include <unistd.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <optional>
#include <set>

#include "store/data/data_dir.h"
#include "store/postgresql/postgres_catalog.h"

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

  // The YAML node of `key` (marked as known), for values a plain read cannot take.
  YAML::Node raw(const std::string& key) {
    known_.insert(key);
    return node_ ? node_[key] : YAML::Node();
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

  std::string name(const std::string& key) const { return prefix_.empty() ? key : prefix_ + "." + key; }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(file_.string() + ": '" + key + "' " + problem);
  }

 private:

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

std::string check_precision(const std::string& v) {
  if (v == "fp32" || v == "bf16" || v == "int8") return {};
  return "must be fp32, bf16 or int8, got '" + v + "'";
}

std::optional<Config::WatcherKind> parse_watcher_kind(const std::string& text) {
  if (text == "auto") return Config::WatcherKind::auto_select;
  if (text == "inotify") return Config::WatcherKind::inotify;
  if (text == "poll") return Config::WatcherKind::poll;
  return std::nullopt;
}

std::string check_watcher_kind(const std::string& v) {
  return parse_watcher_kind(v) ? std::string() : "must be one of auto, inotify, poll, got '" + v + "'";
}

// indexer.roots: each entry a path, or {path, include, exclude, watcher}.
std::vector<Config::Root> read_roots(Section& indexer, const std::filesystem::path& file) {
  const YAML::Node list = indexer.raw("roots");
  std::vector<Config::Root> roots;
  if (!list || list.IsNull()) return roots;
  const std::string key = indexer.name("roots");
  if (!list.IsSequence()) indexer.fail(key, "must be a list of folders (paths, or mappings with a path)");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node entry = list[i];
    const std::string entry_key = key + "[" + std::to_string(i) + "]";
    Config::Root root;
    if (entry.IsScalar()) {
      root.path = expand_user_path(entry.as<std::string>());
    } else if (entry.IsMap()) {
      Section section(entry, entry_key, file);
      std::string path;
      section.read("path", path);
      if (path.empty()) section.fail(entry_key + ".path", "is required: the folder to index");
      root.path = expand_user_path(path);
      std::vector<std::string> patterns;
      if (entry["include"]) {
        section.read("include", patterns);
        root.include = patterns;
      }
      patterns.clear();
      if (entry["exclude"]) {
        section.read("exclude", patterns);
        root.exclude = patterns;
      }
      std::string watcher;
      section.read<std::string>("watcher", watcher, check_watcher_kind);
      if (!watcher.empty()) root.watcher = parse_watcher_kind(watcher);
      section.reject_unknown_keys();
    } else {
      indexer.fail(entry_key, "must be a path or a mapping with path, include, exclude, watcher");
    }
    if (root.path.empty()) indexer.fail(entry_key, "is an empty path");
    roots.push_back(std::move(root));
  }
  return roots;
}

}  // namespace

std::vector<std::filesystem::path> Config::Indexer::root_paths() const {
  std::vector<std::filesystem::path> paths;
  for (const Root& root : roots) paths.push_back(root.path);
  return paths;
}

const std::vector<std::string>& root_include(const Config& config, const Config::Root& root) {
  return root.include ? *root.include : config.indexer.include;
}

const std::vector<std::string>& root_exclude(const Config& config, const Config::Root& root) {
  return root.exclude ? *root.exclude : config.indexer.exclude;
}

Config::WatcherKind root_watcher(const Config& config, const Config::Root& root) {
  return root.watcher ? *root.watcher : config.watch.kind;
}

const char* watcher_kind_name(Config::WatcherKind kind) {
  switch (kind) {
    case Config::WatcherKind::auto_select: return "auto";
    case Config::WatcherKind::inotify: return "inotify";
    case Config::WatcherKind::poll: return "poll";
  }
  return "auto";
}

std::string advertise_url_problem(const std::string& url) {
  if (url.empty()) return {};  // not advertised
  const auto problem = [&](const std::string& what) {
    return what + " (the address other services give for this one's files, e.g. http://nas.lan:7860), got '" + url +
           "'";
  };
  if (url.find('@') != std::string::npos) {
    // Not repeated: it may hold a password.
    return "must not contain '@': no user name or password (the address other services give for this one's "
           "files, e.g. http://nas.lan:7860)";
  }
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else {
    return problem("must be an http:// or https:// URL");
  }
  for (const unsigned char c : url) {
    if (c <= ' ' || c >= 0x7F) return problem("must not contain spaces or control or non-ASCII characters");
  }
  if (url.find_first_of("?#") != std::string::npos) return problem("must not have a query or fragment");
  const std::string authority = rest.substr(0, rest.find('/'));
  // host, host:port, [v6], [v6]:port
  std::string host = authority;
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return problem("has an unclosed '[' in its host");
    host = authority.substr(0, close + 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return problem("must have ':' and a port after the ']' of its host");
      port = after.substr(1);
      if (port.empty()) return problem("has a ':' without a port");
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return problem("has a ':' without a port");
  }
  if (host.empty() || host == "[]") return problem("must name a host");
  if (!port.empty()) {
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](unsigned char c) {
      return std::isdigit(c) != 0;
    });
    if (!digits || std::stoi(port) < 1 || std::stoi(port) > 65535) return problem("has a port that is not 1-65535");
  }
  return {};
}

std::string advertise_url_host(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return {};
  const std::string rest = url.substr(start + 3);
  const std::string authority = rest.substr(0, rest.find('/'));
  if (!authority.empty() && authority.front() == '[') return authority.substr(1, authority.find(']') - 1);
  return authority.substr(0, authority.rfind(':'));
}

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

  Section store = top.child("store");
  {
    std::string backend = "sqlite";
    store.read<std::string>("backend", backend, one_of({"sqlite", "postgresql"}));
    config.store.backend = backend == "postgresql" ? Config::Store::Backend::postgresql : Config::Store::Backend::sqlite;
    Section postgresql = store.child("postgresql");
    postgresql.read("dsn", config.store.postgresql.dsn);
    postgresql.read_path("password_file", config.store.postgresql.password_file);
    postgresql.read<int>("follow_interval_s", config.store.postgresql.follow_interval_s, at_least(1));
    postgresql.read<std::string>("source", config.store.postgresql.source, [](const std::string& v) {
      return v.find(':') == std::string::npos
                 ? std::string()
                 : "must not contain ':' (other services show this one's paths as <source>:<path>), got '" + v + "'";
    });
    postgresql.read<std::string>("advertise_url", config.store.postgresql.advertise_url, advertise_url_problem);
    while (!config.store.postgresql.advertise_url.empty() && config.store.postgresql.advertise_url.back() == '/') {
      config.store.postgresql.advertise_url.pop_back();
    }
    postgresql.reject_unknown_keys();
    if (!config.store.postgresql.dsn.empty()) {
      try {
        check_postgresql_dsn(config.store.postgresql.dsn);
      } catch (const InvalidInput& e) {
        throw ConfigError(file.string() + ": " + e.what());
      }
    }
    if (config.store.backend == Config::Store::Backend::postgresql && config.store.postgresql.dsn.empty()) {
      store.fail("store.postgresql.dsn", "is required with store.backend: postgresql (a libpq connection string, "
                                         "e.g. 'host=db.lan dbname=imgsearchd user=imgsearchd')");
    }
  }
  store.reject_unknown_keys();

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
  model.read<std::string>("precision", config.model.precision, check_precision);
  model.read<int>("batch_size", config.model.batch_size, at_least(1));
  model.read_path("vocabulary", config.model.vocabulary);
  model.reject_unknown_keys();

  Section images = top.child("images");
  images.read("max_pixels", config.images.max_pixels);
  images.reject_unknown_keys();

  Section indexer = top.child("indexer");
  config.indexer.roots = read_roots(indexer, file);
  indexer.read("include", config.indexer.include);
  indexer.read("exclude", config.indexer.exclude);
  indexer.read("extensions", config.indexer.extensions);
  indexer.read("skip_hidden", config.indexer.skip_hidden);
  indexer.read("skip_clutter", config.indexer.skip_clutter);
  indexer.read("follow_symlinks", config.indexer.follow_symlinks);
  indexer.read<int>("decode_threads", config.indexer.decode_threads, at_least(0));
  indexer.read<int>("queue_size", config.indexer.queue_size, at_least(1));
  indexer.reject_unknown_keys();

  Section watch = top.child("watch");
  {
    std::string kind = watcher_kind_name(config.watch.kind);
    watch.read<std::string>("kind", kind, check_watcher_kind);
    config.watch.kind = *parse_watcher_kind(kind);
  }
  watch.read<int>("settle_delay_ms", config.watch.settle_delay_ms, at_least(0));
  watch.read<int>("poll_interval_s", config.watch.poll_interval_s, at_least(1));
  watch.read<int>("reconcile_interval_s", config.watch.reconcile_interval_s, at_least(0));
  watch.read<int>("max_pending", config.watch.max_pending, at_least(1));
  watch.read<int>("max_watches", config.watch.max_watches, at_least(0));
  watch.read<int>("model_check_s", config.watch.model_check_s, at_least(1));
  watch.reject_unknown_keys();

  Section api = top.child("api");
  api.read<std::string>("listen", config.api.listen, [](const std::string& v) {
    const size_t colon = v.rfind(':');
    return colon == std::string::npos || colon == 0 || colon + 1 == v.size()
               ? "must be HOST:PORT (127.0.0.1:7878, [::1]:7878, 0.0.0.0:7878), got '" + v + "'"
               : std::string();
  });
  api.read("token", config.api.token);
  api.read_path("token_file", config.api.token_file);
  api.read("cors_origins", config.api.cors_origins);
  api.read("max_body_bytes", config.api.max_body_bytes);
  api.read<int>("threads", config.api.threads, at_least(1));
  api.reject_unknown_keys();

  Section search = top.child("search");
  search.read<int>("k", config.search.k, [](const int& v) {
    return v >= 1 && v <= 1000 ? std::string() : "must be between 1 and 1000, got " + std::to_string(v);
  });
  search.read<double>("min_score", config.search.min_score, [](const double& v) {
    return v >= -1 && v <= 1 ? std::string() : "must be between -1 and 1, got " + std::to_string(v);
  });
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
  search.read<std::string>("index", config.search.index, one_of({"flat", "ivf"}));
  search.read<int>("nlist", config.search.nlist, [](const int& v) {
    return v >= 0 && v <= 1'000'000 ? std::string()
                                    : "must be 0 (about the square root of the images) or up to 1000000, got " +
                                          std::to_string(v);
  });
  search.read<int>("nprobe", config.search.nprobe, at_least(1));
  search.reject_unknown_keys();

  Section log = top.child("log");
  log.read<std::string>("level", config.log.level, one_of({"trace", "debug", "info", "warn", "error"}));
  log.reject_unknown_keys();

  top.reject_unknown_keys();
  if (!model_dir_given) config.model.dir = config.data_dir / "models";
  return config;
}

CatalogLocation catalog_location(const Config& config) {
  if (config.store.backend == Config::Store::Backend::sqlite) return catalog_path(config.data_dir);
  std::string source = config.store.postgresql.source;
  if (source.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
      throw ConfigError("store.postgresql.source is not set and the host name is unknown: set it");
    }
    source = host;
  }
  return CatalogLocation::postgresql(config.store.postgresql.dsn, source, config.store.postgresql.password_file);
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
