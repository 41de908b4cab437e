#include "api/errors.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "store/core/store_error.h"

namespace imgsearchd::api {

int http_status_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input: return 400;
    case ErrorKind::too_large: return 413;
    case ErrorKind::not_found: return 404;
    case ErrorKind::busy: return 409;
    case ErrorKind::unavailable: return 503;
    case ErrorKind::internal: return 500;
  }
  return 500;
}

void respond_error(httplib::Response& response, int status, const std::string& type, const std::string& message,
                   const nlohmann::json& fields) {
  nlohmann::json error = fields.is_object() ? fields : nlohmann::json::object();
  error["code"] = status;
  error["type"] = type;
  error["message"] = message;
  const nlohmann::json body = {{"error", std::move(error)}};
  response.status = status;
  // Replacement, not escape: a message may quote a caller's bytes.
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

int respond_current_exception(httplib::Response& response) {
  try {
    throw;
  } catch (const Error& error) {  // StoreError too: unavailable, 503
    const int status = http_status_of(error.kind());
    if (status >= 500) spdlog::error("api: {}", error.what());
    respond_error(response, status, error_kind_name(error.kind()), error.what());
    return status;
  } catch (const HttpError& error) {
    respond_error(response, error.status(), error.type(), error.what(), error.fields());
    return error.status();
  } catch (const std::invalid_argument& error) {
    respond_error(response, 400, error_kind_name(ErrorKind::invalid_input), error.what());
    return 400;
  } catch (const std::exception& error) {
    spdlog::error("api: internal error: {}", error.what());
    respond_error(response, 500, error_kind_name(ErrorKind::internal), std::string("internal error: ") + error.what());
    return 500;
  } catch (...) {
    spdlog::error("api: internal error: an exception of unknown type");
    respond_error(response, 500, error_kind_name(ErrorKind::internal), "internal error");
    return 500;
  }
}

std::string error_type_of_status(int status) {
  switch (status) {
    case 400: return error_kind_name(ErrorKind::invalid_input);
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return error_kind_name(ErrorKind::not_found);
    case 405: return "method_not_allowed";
    case 413: return error_kind_name(ErrorKind::too_large);
    case 414: return error_kind_name(ErrorKind::too_large);
    case 416: return "range_not_satisfiable";
    case 503: return error_kind_name(ErrorKind::unavailable);
    default: return status >= 500 ? error_kind_name(ErrorKind::internal) : error_kind_name(ErrorKind::invalid_input);
  }
}

}  // namespace imgsearchd::api
