// Local HTTP receivers on 127.0.0.1 that stand in for Slack, PagerDuty,
// Alertmanager and a webhook consumer: each checks every request the way the
// real service would (tests/alerting/payload_checks.h), counts accepted
// transitions per idempotency key, and can be told to fail (500, 429 with
// Retry-After, hang past the client's time-out, or be down altogether).
// Thread-safe; the server runs on its own threads and stops on destruction.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace burnrate::testing {

class TestReceiver {
 public:
  enum class Kind { kSlack, kPagerDuty, kAlertmanager, kWebhook };
  enum class Mode { kHealthy, kError500, kTooMany429, kHang };

  // `secret`: the routing key (PagerDuty) or HMAC secret (webhook) it expects.
  TestReceiver(Kind kind, std::string secret = "");
  ~TestReceiver();

  // What to give the sink: the full URL, or for Alertmanager the base URL.
  std::string url() const;
  void SetMode(Mode mode, int retry_after_seconds = 0);
  // Stops listening (connections are refused) / listens again on the same port.
  void Down();
  void Up();

  // Transition keys ("<alert_id>:firing|resolved", the webhook's
  // Idempotency-Key) of accepted (2xx) requests, with counts, and in order.
  std::map<std::string, int> accepted() const;
  std::vector<std::string> accepted_order() const;
  // Requests that reached the handler, whatever the answer.
  int requests() const;
  // Payload problems found; empty when every request was valid.
  std::vector<std::string> errors() const;
  std::vector<std::string> bodies() const;

 private:
  void Listen();
  void Handle(const std::string& path, const std::string& body, const std::string& idempotency_key,
              const std::string& timestamp, const std::string& signature, int& status,
              std::string& answer, std::string& retry_after);

  Kind kind_;
  std::string secret_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mu_;
  Mode mode_ = Mode::kHealthy;
  int retry_after_s_ = 0;
  std::map<std::string, int> accepted_;
  std::vector<std::string> order_;
  std::vector<std::string> errors_;
  std::vector<std::string> bodies_;
  int requests_ = 0;
};

}  // namespace burnrate::testing
