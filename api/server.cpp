#include "api/server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <httplib.h>

#include "api/access.h"
#include "api/errors.h"
#include "api/handlers.h"
#include "api/routes.h"
#include "api/state.h"
#include "api/worker_pool.h"
#include "indexer/image/image_loader.h"
#include "store/core/errors.h"

namespace imgsearchd {

namespace api {

std::shared_ptr<QueryEngine> ApiState::engine() const {
  if (!context.readiness) throw Unavailable("this service answers no searches");
  ApiReadiness ready = context.readiness();
  if (!ready.engine) throw Unavailable(ready.reason.empty() ? "the model is not ready" : ready.reason);
  return std::move(ready.engine);
}

void respond_json(httplib::Response& response, const nlohmann::json& body, int status) {
  response.status = status;
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

namespace {

using Clock = std::chrono::steady_clock;

// What the request on this thread is, for the metrics the logger records:
// httplib answers each request wholly on one thread.
thread_local std::string t_route;
thread_local Clock::time_point t_started;
thread_local bool t_timing = false;

void begin_request() {
  t_started = Clock::now();
  t_timing = true;
  t_route = "refused";
}

std::string error_message_of_status(int status, const httplib::Request& request, size_t max_body) {
  switch (status) {
    case 404: return "no route " + request.method + " " + request.path;
    case 413:
      if (request.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0) {
        return "form bodies (application/x-www-form-urlencoded, what curl -d and --data-binary send by default) are "
               "limited to 8192 bytes: send an image with its own type (-H 'Content-Type: image/jpeg') or as a "
               "multipart field (-F image=@FILE)";
      }
      return "the request body is larger than " + std::to_string(max_body) + " bytes (api.max_body_bytes)";
    case 414: return "the request line is too long";
    case 400: return "the request could not be understood (method " + request.method + ", path " + request.path + ")";
    default: return "HTTP " + std::to_string(status);
  }
}

}  // namespace
}  // namespace api

struct ApiServer::Impl {
  Impl(ApiOptions options, ApiContext context)
      : state(std::move(options), std::move(context)), hosts(state.options.host, state.options.allowed_hosts) {}

  void configure();
  httplib::Server::HandlerResponse admit(const httplib::Request& request, httplib::Response& response);

  api::ApiState state;
  api::HostCheck hosts;
  httplib::Server http;
  std::thread listener;
  int port = 0;
  bool started = false;
};

ApiServer::ApiServer(ApiOptions options, ApiContext context) {
  if (!api::is_loopback_host(options.host) && options.token.empty()) {
    throw InvalidInput("api.listen: " + options.host +
                       " is not a loopback address; set api.token or api.token_file to listen there (every request "
                       "will then need Authorization: Bearer TOKEN), or listen on 127.0.0.1");
  }
  if (!api::is_loopback_host(options.host) && options.token.size() < kMinTokenLength) {
    throw InvalidInput("api.token: a token to listen on " + options.host + " must be at least " +
                       std::to_string(kMinTokenLength) + " characters long (e.g. openssl rand -hex 32)");
  }
  if (options.threads < 1 || options.threads > 256) {
    throw InvalidInput("api.threads must be between 1 and 256, got " + std::to_string(options.threads));
  }
  if (options.max_body_bytes < 1024) {
    throw InvalidInput("api.max_body_bytes must be at least 1024, got " + std::to_string(options.max_body_bytes));
  }
  if (options.port < 0 || options.port > 65535) {
    throw InvalidInput("api.listen: the port must be between 0 and 65535, got " + std::to_string(options.port));
  }
  check_search_options(options.search_defaults);  // InvalidInput naming the option
  init_image_library("imgsearchd");
  impl_ = std::make_unique<Impl>(std::move(options), std::move(context));
  impl_->configure();
}

ApiServer::~ApiServer() { stop(); }

MetricsRegistry& ApiServer::metrics() { return *impl_->state.metrics; }

int ApiServer::port() const { return impl_->port; }

void ApiServer::Impl::configure() {
  const ApiOptions& options = state.options;
  http.set_payload_max_length(options.max_body_bytes);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a
  // second service bind the same port and silently take half the requests.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Answers go out at once: with Nagle's algorithm on, the body waits for the
  // ACK of the headers, which a keep-alive client delays up to 40 ms
  // (bench/query_bench.sh measured every wrk request at 40 ms or more).
  http.set_tcp_nodelay(true);
  http.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}});
  const size_t threads = static_cast<size_t>(options.threads);
  const size_t queued = options.max_queued_connections;
  http.new_task_queue = [threads, queued] { return new api::BoundedWorkerPool(threads, queued); };

  http.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) { return admit(request, response); });

  for (const api::Route& route : api::route_table()) {
    const std::string label = std::string(route.method) + " " + route.path;
    httplib::Server::Handler wrapped = [this, &route, label](const httplib::Request& request,
                                                             httplib::Response& response) {
      api::t_route = label;
      // httplib applies a Range header to whatever body a handler writes;
      // only the file route serves ranges, and never of an error.
      auto& ranges = const_cast<httplib::Request&>(request).ranges;
      if (route.handler != &api::image_file) ranges.clear();
      api::Call call{state, request, response};
      try {
        route.handler(call);
      } catch (...) {
        ranges.clear();
        api::respond_current_exception(response);
      }
    };
    const std::string pattern = api::route_pattern(route.path);
    if (std::strcmp(route.method, "GET") == 0) {
      http.Get(pattern, std::move(wrapped));
    } else {
      http.Post(pattern, std::move(wrapped));
    }
  }

  // What httplib answers itself (no route, body too large, unparsable
  // request) gets the same JSON shape; bodies handlers wrote are kept.
  const size_t max_body = options.max_body_bytes;
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [max_body](const httplib::Request& request, httplib::Response& response) {
        if (!response.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (api::t_route == "refused") api::t_route = "unmatched";
        api::respond_error(response, response.status, api::error_type_of_status(response.status),
                           api::error_message_of_status(response.status, request, max_body));
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
    try {
      std::rethrow_exception(error);
    } catch (...) {
      api::respond_current_exception(response);
    }
  });
  // Counted before the response is written, so a client that has its answer
  // sees it counted (the logger runs only after the write).
  http.set_post_routing_handler([this](const httplib::Request&, httplib::Response& response) {
    const double seconds =
        api::t_timing ? std::chrono::duration<double>(api::Clock::now() - api::t_started).count() : 0.0;
    const std::string route = api::t_timing ? api::t_route : "malformed";
    api::t_timing = false;
    state.metrics->observe_request(route, response.status, seconds);
  });
  http.set_logger([](const httplib::Request& request, const httplib::Response& response) {
    spdlog::debug("api: {} {} -> {}", request.method, request.path, response.status);
  });
}

// Before any route and before the body is read: overload, Host, Origin, CORS
// preflight, token.
httplib::Server::HandlerResponse ApiServer::Impl::admit(const httplib::Request& request,
                                                        httplib::Response& response) {
  using Result = httplib::Server::HandlerResponse;
  api::begin_request();
  const ApiOptions& options = state.options;
  if (api::BoundedWorkerPool::overloaded()) {
    response.set_header("Retry-After", "1");
    response.set_header("Connection", "close");
    api::respond_error(response, 503, error_kind_name(ErrorKind::unavailable),
                       "the server is busy: " + std::to_string(options.threads) + " requests are being answered and " +
                           std::to_string(options.max_queued_connections) + " connections wait; try again");
    return Result::Handled;
  }
  const std::string host = request.get_header_value("Host");
  if (!hosts.allowed(host, request.local_addr)) {
    api::respond_error(response, 403, "forbidden",
                       "the Host header " + (host.empty() ? std::string("is missing") : "'" + host + "' is not") +
                           " an address this server answers to (localhost, " + options.host +
                           "): refused against DNS rebinding");
    return Result::Handled;
  }
  const std::string origin = request.get_header_value("Origin");
  if (!origin.empty()) {
    const bool listed =
        std::find(options.cors_origins.begin(), options.cors_origins.end(), origin) != options.cors_origins.end();
    const bool same_origin = origin == "http://" + host;
    if (!listed && !same_origin) {
      api::respond_error(response, 403, "forbidden",
                         "requests from the web origin '" + origin + "' are refused (api.cors_origins lists those allowed)");
      return Result::Handled;
    }
    if (listed) {
      response.set_header("Access-Control-Allow-Origin", origin);
      response.set_header("Vary", "Origin");
    }
  }
  if (request.method == "OPTIONS") {
    if (origin.empty()) {
      api::respond_error(response, 404, error_kind_name(ErrorKind::not_found), "no route OPTIONS " + request.path);
      return Result::Handled;
    }
    response.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    response.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    response.set_header("Access-Control-Max-Age", "600");
    response.status = 204;
    api::t_route = "OPTIONS";
    return Result::Handled;
  }
  if (!options.token.empty()) {
    bool needs_token = true;
    for (const api::Route& route : api::route_table()) {
      if (!route.needs_token && request.method == route.method && request.path == route.path) needs_token = false;
    }
    if (needs_token) {
      const std::string given = api::bearer_token(request.get_header_value("Authorization"));
      if (!api::tokens_equal(given, options.token)) {
        response.set_header("WWW-Authenticate", "Bearer realm=\"imgsearchd\"");
        response.set_header("Connection", "close");  // the body, if any, is left unread
        api::respond_error(response, 401, "unauthorized",
                           given.empty() ? "this server needs Authorization: Bearer TOKEN (api.token)"
                                         : "the bearer token is wrong");
        return Result::Handled;
      }
    }
  }
  api::t_route = "unmatched";
  return Result::Unhandled;
}

void ApiServer::start() {
  Impl& impl = *impl_;
  if (impl.started) return;
  const std::string& host = impl.state.options.host;
  const std::string where = host + ":" + std::to_string(impl.state.options.port);
  if (impl.state.options.port == 0) {
    impl.port = impl.http.bind_to_any_port(host);
    if (impl.port < 0) throw Unavailable("cannot listen on " + where + " (api.listen): " + std::strerror(errno));
  } else {
    if (!impl.http.bind_to_port(host, impl.state.options.port)) {
      throw Unavailable("cannot listen on " + where + " (api.listen): " + std::strerror(errno));
    }
    impl.port = impl.state.options.port;
  }
  impl.started = true;
  impl.listener = std::thread([&impl] { impl.http.listen_after_bind(); });
  // stop() does nothing to a server that is not running yet: wait until it is.
  while (!impl.http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  spdlog::info("api: listening on http://{}:{}/", host.find(':') != std::string::npos ? "[" + host + "]" : host,
               impl.port);
}

void ApiServer::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->state.duplicates.stop();
  impl_->http.stop();
  if (impl_->listener.joinable()) impl_->listener.join();
  impl_->started = false;
}

}  // namespace imgsearchd
