// placeholder: `imgsearchd embed`
#include "daemon/app.h"
namespace imgsearchd {
void register_embed_command(CLI::App&, AppContext&) {}
}  // namespace imgsearchd
