// One error policy for every layer (DESIGN.md, "Errors"): a few typed errors
// that each boundary maps the same way, after DuckDB's typed exceptions.
//
//   kind            meaning                                              HTTP  CLI exit
//   invalid_input   the caller asked for something malformed or out of   400   2
//                   range (a bad k, bad JSON, a non-image upload)
//   too_large       an input over a size limit (a kind of invalid input) 413   2
//   not_found       an unknown id, path or model                         404   1
//   busy            another writer holds the data folder                 409   1
//   unavailable     the model is loading or missing, the database is     503   1
//                   down
//   internal        a broken invariant (IMGSEARCHD_CHECK names file and  500   70
//                   line)
//
// A bad file is not an error of the operation: it is a value (a failure with
// its reason, recorded and reported). Every message names the thing that was
// wrong: the file, the key, the parameter, the id.
#pragma once

#include <stdexcept>
#include <string>

namespace imgsearchd {

enum class ErrorKind { invalid_input, too_large, not_found, busy, unavailable, internal };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

struct InvalidInput : Error {
  explicit InvalidInput(const std::string& message) : Error(ErrorKind::invalid_input, message) {}
};
struct TooLarge : Error {
  explicit TooLarge(const std::string& message) : Error(ErrorKind::too_large, message) {}
};
struct NotFound : Error {
  explicit NotFound(const std::string& message) : Error(ErrorKind::not_found, message) {}
};
struct Busy : Error {
  explicit Busy(const std::string& message) : Error(ErrorKind::busy, message) {}
};
struct Unavailable : Error {
  explicit Unavailable(const std::string& message) : Error(ErrorKind::unavailable, message) {}
};
struct InternalError : Error {
  explicit InternalError(const std::string& message) : Error(ErrorKind::internal, message) {}
};

// The short name of a kind, as the API's error "type" and in logs.
inline const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input: return "invalid_request";
    case ErrorKind::too_large: return "too_large";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::busy: return "busy";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

}  // namespace imgsearchd

// A broken invariant: a bug, not a caller's mistake. Throws InternalError
// naming the file and line, so it reaches the user as a clear internal error
// (HTTP 500, exit 70) instead of undefined behaviour.
#define IMGSEARCHD_CHECK(condition, message)                                                              \
  do {                                                                                                    \
    if (!(condition)) {                                                                                   \
      throw ::imgsearchd::InternalError(std::string("internal error at ") + __FILE__ + ":" +             \
                                        std::to_string(__LINE__) + ": " #condition " failed: " + (message)); \
    }                                                                                                     \
  } while (false)
