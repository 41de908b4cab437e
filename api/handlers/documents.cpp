// The documents: the OpenAPI description and the web page.
#include <fstream>
#include <iterator>

#include "api/handlers.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

void openapi_document(Call& call) {
  call.response.set_content(builtin_openapi_document(), "application/json");
}

void web_page(Call& call) {
  std::string page = builtin_web_page();
  if (!call.state.options.web_dir.empty()) {
    const std::filesystem::path file = call.state.options.web_dir / "index.html";
    std::ifstream in(file, std::ios::binary);
    if (!in) throw NotFound("the web page " + file.string() + " cannot be read");
    page.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Nothing from any other host, ever.
  call.response.set_header("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
                           "script-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'");
  call.response.set_content(page, "text/html; charset=utf-8");
}

}  // namespace imgsearchd::api
