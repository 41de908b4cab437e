// Internal to imgsearchd_api. One error shape for every route:
//   {"error": {"code": 400, "type": "invalid_request", "message": "k must be ..."}}
// mapped from the typed errors of store/core/errors.h (DESIGN.md, "Errors"),
// plus the refusals only HTTP has (a missing token, a foreign Host).
#pragma once

#include <exception>
#include <string>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "store/core/errors.h"

namespace imgsearchd::api {

// A refusal with its own status and type (401 unauthorized, 403 forbidden,
// ...), and optionally fields of its own beside code, type and message (a
// 404 for a file another service holds names it: "holder").
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string type, const std::string& message, nlohmann::json fields = nlohmann::json::object())
      : std::runtime_error(message), status_(status), type_(std::move(type)), fields_(std::move(fields)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const nlohmann::json& fields() const { return fields_; }

 private:
  int status_;
  std::string type_;
  nlohmann::json fields_;
};

int http_status_of(ErrorKind kind);

// Writes the JSON error body and status; `fields` (an object) go into the
// error object beside code, type and message.
void respond_error(httplib::Response& response, int status, const std::string& type, const std::string& message,
                   const nlohmann::json& fields = nlohmann::json::object());

// Turns the exception in flight into a JSON error: typed errors by their
// kind, HttpError as it says, StoreError as 503 (the database cannot be
// read), std::invalid_argument as 400, anything else as 500. Call from a
// catch block. Returns the status written.
int respond_current_exception(httplib::Response& response);

// The type name of a plain HTTP status (for errors httplib makes itself:
// 404 unknown route, 413 body too large, 400 unparsable request).
std::string error_type_of_status(int status);

}  // namespace imgsearchd::api
