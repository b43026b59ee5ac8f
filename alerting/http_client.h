// A small blocking HTTP POST over libcurl for the sinks, with a time-out on
// every request, and the mapping from HTTP outcomes to sink results that all
// HTTP sinks share. libcurl stays out of this header.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "alerting/sink.h"

namespace burnrate {

struct HttpPostResult {
  int status = 0;               // 0: no HTTP response (connect error, time-out)
  std::string transport_error;  // set when status is 0
  std::string body;             // first 4 KiB of the response body
  int64_t retry_after_ms = -1;  // from a Retry-After header in seconds
};

// One connection (a curl easy handle) kept alive between requests, so a
// busy receiver does not pay a TCP (and TLS) handshake per alert. Owned by
// one sink; not thread-safe. Never logs the URL.
class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpPostResult Post(const std::string& url, const std::string& body,
                      const std::vector<std::pair<std::string, std::string>>& headers,
                      int64_t timeout_ms);

 private:
  void* curl_;  // CURL*, kept out of this header
};

// A one-off POST on a fresh connection. Thread-safe.
HttpPostResult HttpPost(const std::string& url, const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        int64_t timeout_ms);

// 2xx: ok. 429 (with Retry-After when given), 408, 5xx and transport
// errors: retry. Any other status: fatal (the receiver refuses this payload
// or our credentials, and sending it again will not help).
SinkResult SinkResultFromHttp(const HttpPostResult& result, std::string_view receiver_type);

}  // namespace burnrate
