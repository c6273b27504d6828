#include "core/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>

namespace core {
namespace {

std::once_flag g_civetweb_init;  // mg_init_library is process-wide by civetweb's design

const char* StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// Reads at most max+1 bytes so an oversized chunked body is detected without
// buffering it all. Returns false when the body exceeded `max`.
bool ReadBody(mg_connection* conn, long long content_length, size_t max, std::string& out) {
  if (content_length > static_cast<long long>(max)) return false;
  size_t expect = content_length > 0 ? static_cast<size_t>(content_length) : 0;
  out.reserve(expect + kBodyPadding);
  char buf[16384];
  while (true) {
    int n = mg_read(conn, buf, sizeof buf);
    if (n <= 0) break;
    if (out.size() + static_cast<size_t>(n) > max) {
      // Drain the rest so the connection stays usable, but keep nothing.
      while (mg_read(conn, buf, sizeof buf) > 0) {
      }
      out.clear();
      return false;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  if (out.capacity() < out.size() + kBodyPadding) out.reserve(out.size() + kBodyPadding);
  return true;
}

// Opens and closes a TCP connection to `port` on the IPv4 and IPv6 loopback
// addresses (whichever the server listens on); errors are irrelevant.
void PokeLoopback(int port) {
  const int v4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (v4 >= 0) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)connect(v4, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    close(v4);
  }
  const int v6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (v6 >= 0) {
    sockaddr_in6 addr{};
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(static_cast<uint16_t>(port));
    addr.sin6_addr = in6addr_loopback;
    (void)connect(v6, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    close(v6);
  }
}

}  // namespace

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  std::call_once(g_civetweb_init, [] { mg_init_library(0); });
  std::unique_ptr<HttpServer> server(new HttpServer(options, std::move(handler)));
  std::string threads = std::to_string(options.num_threads);
  std::string timeout = std::to_string(options.request_timeout_ms);
  const char* civet_options[] = {"listening_ports",
                                 server->options_.listen.c_str(),
                                 "num_threads",
                                 threads.c_str(),
                                 "enable_keep_alive",
                                 "yes",
                                 "tcp_nodelay",
                                 "1",
                                 "request_timeout_ms",
                                 timeout.c_str(),
                                 "keep_alive_timeout_ms",
                                 "30000",
                                 nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  // Silence civetweb's own stderr logging; errors surface through Start's result.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  char error_buf[256] = {0};
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = civet_options;
  mg_error_data err{};
  err.text = error_buf;
  err.text_buffer_size = sizeof error_buf;
  server->ctx_ = mg_start2(&init, &err);
  if (server->ctx_ == nullptr) {
    return Fail(ErrorCode::kUnavailable,
                "cannot listen on " + options.listen + ": " +
                    (error_buf[0] ? std::string(error_buf) : std::string("unknown error")));
  }
  mg_set_request_handler(server->ctx_, "/", &HttpServer::HandleRequest, server.get());
  mg_server_port ports[4];
  int n = mg_get_server_ports(server->ctx_, 4, ports);
  if (n > 0) server->port_ = ports[0].port;
  return server;
}

void HttpServer::Stop() {
  if (ctx_ == nullptr) return;
  // mg_stop sets a stop flag that makes mg_read and mg_write give up at once, so a
  // request still being uploaded or answered would be cut off without a response.
  // Drain first: wait until no request has been in progress for a short quiet period
  // (which also covers requests whose bytes arrived but that no worker has picked up
  // yet), bounded by shutdown_grace_ms.
  using Clock = std::chrono::steady_clock;
  constexpr auto kQuietPeriod = std::chrono::milliseconds(100);
  draining_.store(true);
  const auto start = Clock::now();
  const auto grace = std::chrono::milliseconds(options_.shutdown_grace_ms);
  auto quiet_since = start;
  for (auto now = start; now - start < grace; now = Clock::now()) {
    if (in_flight_.load() > 0) {
      quiet_since = now;
    } else if (now - quiet_since >= kQuietPeriod) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // civetweb's master thread sees the stop flag only when its poll() on the
  // listening sockets returns, up to 2 s later on an idle server (most of a
  // shutdown's time). Connecting to our own port wakes it at once; on a
  // non-loopback listener the connects fail and the stop takes the long way.
  std::atomic<bool> stopped{false};
  std::thread waker;
  if (port_ > 0) {
    waker = std::thread([this, &stopped] {
      while (!stopped.load()) {
        PokeLoopback(port_);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  mg_stop(ctx_);  // joins the workers
  stopped.store(true);
  if (waker.joinable()) waker.join();
  ctx_ = nullptr;
}

int HttpServer::HandleRequest(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<HttpServer*>(self_ptr);
  self->in_flight_.fetch_add(1);
  struct InFlight {
    std::atomic<int>& n;
    ~InFlight() { n.fetch_sub(1); }
  } in_flight{self->in_flight_};
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "";
  req.path = info->local_uri ? info->local_uri : "/";
  if (info->query_string) req.query_string = info->query_string;
  req.remote_addr = info->remote_addr;
  req.headers.reserve(static_cast<size_t>(info->num_headers));
  for (int i = 0; i < info->num_headers; ++i) {
    std::string name = info->http_headers[i].name;
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), info->http_headers[i].value);
  }
  if (!ReadBody(conn, info->content_length, self->options_.max_body_bytes, req.body)) {
    req.body_too_large = true;
  }

  HttpResponse resp;
  self->handler_(req, resp);

  std::string out;
  out.reserve(std::min<size_t>(resp.body.size(), 64 * 1024) + 256);
  out.append("HTTP/1.1 ").append(std::to_string(resp.status)).append(" ");
  out.append(StatusText(resp.status)).append("\r\n");
  out.append("Content-Type: ").append(resp.content_type).append("\r\n");
  out.append("Content-Length: ").append(std::to_string(resp.body.size())).append("\r\n");
  for (const auto& [k, v] : resp.headers) out.append(k).append(": ").append(v).append("\r\n");
  if (req.body_too_large || self->draining_.load()) out.append("Connection: close\r\n");
  out.append("\r\n");
  // Small responses go out in one write (see the header comment); large ones as
  // headers then body, which saves copying the body (e.g. a 10 MB /metrics page).
  constexpr size_t kCopyLimit = 64 * 1024;
  const bool send_body = req.method != "HEAD";
  if (send_body && resp.body.size() <= kCopyLimit) out.append(resp.body);
  mg_write(conn, out.data(), out.size());
  if (send_body && resp.body.size() > kCopyLimit) mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;
}

}  // namespace core
