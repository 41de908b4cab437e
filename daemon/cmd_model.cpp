// placeholder: `imgsearchd model pull|list|info`
#include "daemon/app.h"
namespace imgsearchd {
void register_model_commands(CLI::App&, AppContext&) {}
}  // namespace imgsearchd
