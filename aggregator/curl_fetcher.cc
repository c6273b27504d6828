#include "aggregator/curl_fetcher.h"

#include <curl/curl.h>

#include <mutex>
#include <string>

namespace scrape {
namespace {

std::once_flag g_curl_init;

struct WriteState {
  std::string* body;
  int64_t limit;
  bool too_large = false;
};

size_t WriteBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<WriteState*>(user);
  const size_t n = size * nmemb;
  if (st->limit > 0 && st->body->size() + n > static_cast<size_t>(st->limit)) {
    st->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  st->body->append(data, n);
  return n;
}

}  // namespace

struct CurlFetcher::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

CurlFetcher::CurlFetcher() : handle_(std::make_unique<Handle>()) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlFetcher::~CurlFetcher() = default;

core::Status CurlFetcher::Fetch(const FetchRequest& request, FetchResponse& response,
                                FetchError* error) {
  std::lock_guard lock(mu_);
  *error = FetchError::kNone;
  response.status = 0;
  response.content_type.clear();
  response.body.clear();
  if (handle_->curl == nullptr) handle_->curl = curl_easy_init();
  CURL* curl = handle_->curl;
  if (curl == nullptr) {
    *error = FetchError::kTransport;
    return core::Fail(core::ErrorCode::kInternal, "curl_easy_init failed");
  }
  curl_easy_reset(curl);  // keeps the connection cache

  curl_slist* headers = nullptr;
  for (const auto& [k, v] : request.headers) {
    headers = curl_slist_append(headers, (k + ": " + v).c_str());
  }
  WriteState state{&response.body, request.body_size_limit};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "gzip");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  if (request.body_size_limit > 0) {
    // Refuses early when Content-Length already says too much (pre-decoding size).
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(request.body_size_limit));
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);

  if (rc != CURLE_OK) {
    if (state.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      *error = FetchError::kBodyTooLarge;
      return core::Fail(core::ErrorCode::kPayloadTooLarge, "body size limit exceeded");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      *error = FetchError::kTimeout;
      return core::Fail(core::ErrorCode::kUnavailable, "context deadline exceeded");
    }
    *error = FetchError::kTransport;
    std::string msg = "Get \"" + request.url + "\": " + curl_easy_strerror(rc);
    if (errbuf[0] != '\0') msg += std::string(" (") + errbuf + ")";
    return core::Fail(core::ErrorCode::kUnavailable, std::move(msg));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  char* ct = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != nullptr) {
    response.content_type = ct;
  }
  return {};
}

}  // namespace scrape
