// CurlFetcher: the libcurl HttpFetcher used for scrapes. The only file that
// includes curl. Sends the request headers given, asks for gzip and decodes it
// (Accept-Encoding: gzip), stops reading once the decoded body passes
// body_size_limit, and enforces timeout_ms over the whole request. Keeps one
// connection alive between fetches.
//
// Thread-safe (a mutex serializes fetches on the one handle); give each
// scrape loop its own instance to fetch in parallel.
#pragma once

#include <memory>
#include <mutex>

#include "aggregator/scrape_fetcher.h"

namespace scrape {

class CurlFetcher final : public HttpFetcher {
 public:
  CurlFetcher();
  ~CurlFetcher() override;
  CurlFetcher(const CurlFetcher&) = delete;
  CurlFetcher& operator=(const CurlFetcher&) = delete;

  core::Status Fetch(const FetchRequest& request, FetchResponse& response,
                     FetchError* error) override;

 private:
  struct Handle;
  std::mutex mu_;
  std::unique_ptr<Handle> handle_;  // guarded by mu_
};

}  // namespace scrape
