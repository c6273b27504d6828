// HttpServer: the civetweb binding. The only file that includes civetweb.
// It reads a request into an HttpRequest, calls the handler, and writes the
// HttpResponse in one mg_write (status line, headers and body together: civetweb
// otherwise sends a packet per header line and keep-alive clients hit Nagle).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "core/http.h"
#include "core/status.h"

struct mg_connection;
struct mg_context;

namespace core {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:9470";  // host:port; port 0 picks a free port
  int num_threads = 64;                   // >= concurrent keep-alive clients
  size_t max_body_bytes = 16 << 20;       // larger bodies are not read (413)
  int request_timeout_ms = 30'000;
  int shutdown_grace_ms = 10'000;         // Stop() waits this long for in-flight requests
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// Thread-safe: the handler is called concurrently from civetweb's worker threads.
class HttpServer {
 public:
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts listening. Fails (never throws) when the address is busy or invalid.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);

  // The bound port (useful with port 0).
  int port() const { return port_; }

  // Lets in-flight requests finish (up to shutdown_grace_ms; responses sent
  // meanwhile carry `Connection: close`), then stops accepting and joins the
  // workers. Idempotent.
  void Stop();

 private:
  HttpServer(HttpServerOptions options, HttpHandler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  static int HandleRequest(::mg_connection* conn, void* self);

  HttpServerOptions options_;
  HttpHandler handler_;
  ::mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::atomic<int> in_flight_{0};     // requests between HandleRequest entry and exit
  std::atomic<bool> draining_{false};
};

}  // namespace core
