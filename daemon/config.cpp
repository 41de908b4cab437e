// placeholder
#include "daemon/config.h"
namespace imgsearchd {
Config default_config() { return {}; }
Config load_config(const std::filesystem::path&) { return {}; }
Config load_config_for_cli(const std::filesystem::path&) { return {}; }
std::filesystem::path expand_user_path(const std::string& p) { return p; }
}  // namespace imgsearchd
