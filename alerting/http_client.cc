#include "alerting/http_client.h"

#include <curl/curl.h>

#include <charconv>
#include <mutex>

#include "core/concat.h"

namespace burnrate {
namespace {

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t bytes = size * n;
  if (out->size() < 4096) out->append(data, std::min(bytes, 4096 - out->size()));
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* retry_after = static_cast<int64_t*>(user);
  const std::string_view line(data, size * n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (size_t i = 0; i < kName.size(); ++i) {
      const char c =
          line[i] >= 'A' && line[i] <= 'Z' ? static_cast<char>(line[i] - 'A' + 'a') : line[i];
      if (c != kName[i]) match = false;
    }
    if (match) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      int64_t seconds = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      // Only the delta-seconds form; an HTTP date falls back to backoff.
      if (ec == std::errc() && p != v.data() && seconds >= 0) *retry_after = seconds * 1000;
    }
  }
  return size * n;
}

}  // namespace

HttpClient::HttpClient() {
  InitCurlOnce();
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpPostResult HttpPost(const std::string& url, const std::string& body,
                        const std::vector<std::pair<std::string, std::string>>& headers,
                        int64_t timeout_ms) {
  HttpClient client;
  return client.Post(url, body, headers, timeout_ms);
}

HttpPostResult HttpClient::Post(const std::string& url, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                int64_t timeout_ms) {
  HttpPostResult result;
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) {
    result.transport_error = "curl_easy_init failed";
    return result;
  }
  // Options from the previous request must not leak into this one; the
  // connection cache survives the reset.
  curl_easy_reset(curl);
  curl_slist* list = nullptr;
  for (const auto& [k, v] : headers) list = curl_slist_append(list, Concat(k, ": ", v).c_str());
  // No "Expect: 100-continue" round trip on larger bodies.
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(timeout_ms, 5000)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &result.retry_after_ms);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    result.status = static_cast<int>(status);
  } else {
    result.transport_error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  return result;
}

SinkResult SinkResultFromHttp(const HttpPostResult& r, std::string_view receiver_type) {
  if (r.status == 0) return SinkResult::Retry(Concat(receiver_type, ": ", r.transport_error));
  if (r.status >= 200 && r.status < 300) return SinkResult::Ok();
  if (r.status == 429)
    return SinkResult::Retry(Concat(receiver_type, ": HTTP 429"), r.retry_after_ms);
  if (r.status == 408 || r.status >= 500) {
    return SinkResult::Retry(Concat(receiver_type, ": HTTP ", r.status), r.retry_after_ms);
  }
  return SinkResult::Fatal(Concat(receiver_type, ": HTTP ", r.status));
}

}  // namespace burnrate
