// The documents: the OpenAPI description and the web page.
#include <fstream>
#include <iterator>

#include "api/handlers.h"
#include "store/core/errors.h"

namespace imgsearchd::api {

void openapi_document(Call& call) {
  call.response.set_content(builtin_openapi_document(), "application/json");
}

namespace {

// A file of the page: the one built in, or web_dir/NAME when the page is
// installed beside the binary. NAME is always one of ours, never a part of
// the request.
std::string page_file(const Call& call, const char* name, const std::string& builtin) {
  if (call.state.options.web_dir.empty()) return builtin;
  const std::filesystem::path file = call.state.options.web_dir / name;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw NotFound("the web page's file " + file.string() + " cannot be read");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

void web_page(Call& call) {
  const std::string page = page_file(call, "index.html", builtin_web_page());
  // Nothing from any other host, ever, and no inline script or style: the
  // page's own are /web/app.js and /web/style.css.
  call.response.set_header("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
                           "script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
  call.response.set_content(page, "text/html; charset=utf-8");
}

void web_asset(Call& call) {
  // Revalidated on every load, so a new version of the page is never mixed
  // with an old script.
  call.response.set_header("Cache-Control", "no-cache");
  if (call.request.path == "/web/app.js") {
    call.response.set_content(page_file(call, "app.js", builtin_web_script()), "text/javascript; charset=utf-8");
  } else {
    call.response.set_content(page_file(call, "style.css", builtin_web_style()), "text/css; charset=utf-8");
  }
}

}  // namespace imgsearchd::api
