// bare_civetweb: the HTTP ceiling for bench/run.sh. A minimal civetweb server
// (C API) that reads any request body and answers "ok", written the fast way
// (see TOOLCHAIN.md): keep-alive, tcp_nodelay=1, status line + headers + body
// in a single mg_write, and at least as many worker threads as clients.
//
// Usage: bare_civetweb PORT [NUM_THREADS=64]   (listens on 127.0.0.1:PORT;
// stops on SIGINT/SIGTERM).
#include <civetweb.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int HandleAny(mg_connection* conn, void*) {
  char buf[16384];
  while (mg_read(conn, buf, sizeof buf) > 0) {
  }
  static constexpr char kResponse[] =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: 2\r\n"
      "\r\n"
      "ok";
  mg_write(conn, kResponse, sizeof kResponse - 1);
  return 200;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [NUM_THREADS]\n", argv[0]);
    return 2;
  }
  const std::string listen = std::string("127.0.0.1:") + argv[1];
  const std::string threads = argc > 2 ? argv[2] : "64";

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by civetweb's threads

  mg_init_library(0);
  const char* options[] = {"listening_ports",   listen.c_str(), "num_threads", threads.c_str(),
                           "enable_keep_alive", "yes",          "tcp_nodelay", "1",
                           "keep_alive_timeout_ms", "30000",   nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  mg_context* ctx = mg_start(&callbacks, nullptr, options);
  if (ctx == nullptr) {
    std::fprintf(stderr, "bare_civetweb: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  mg_set_request_handler(ctx, "/", HandleAny, nullptr);
  std::fprintf(stderr, "bare_civetweb listening on %s with %s threads\n", listen.c_str(),
               threads.c_str());

  int sig = 0;
  sigwait(&signals, &sig);
  mg_stop(ctx);
  mg_exit_library();
  return 0;
}
