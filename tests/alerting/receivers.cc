#include "tests/alerting/receivers.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/time_format.h"
#include "tests/alerting/payload_checks.h"
#include "tests/support/wait.h"

namespace burnrate::testing {
namespace {

using namespace std::chrono_literals;

std::string_view PathFor(TestReceiver::Kind kind) {
  switch (kind) {
    case TestReceiver::Kind::kSlack:
      return "/services/T000/B000/XXXX";
    case TestReceiver::Kind::kPagerDuty:
      return "/v2/enqueue";
    case TestReceiver::Kind::kAlertmanager:
      return "/api/v2/alerts";
    case TestReceiver::Kind::kWebhook:
      return "/hook";
  }
  return "/";
}

}  // namespace

TestReceiver::TestReceiver(Kind kind, std::string secret)
    : kind_(kind), secret_(std::move(secret)) {
  Listen();
}

TestReceiver::~TestReceiver() { Down(); }

void TestReceiver::Listen() {
  auto server = std::make_unique<httplib::Server>();
  server->Post(std::string(PathFor(kind_)),
               [this](const httplib::Request& req, httplib::Response& res) {
                 int status = 200;
                 std::string answer, retry_after;
                 Handle(req.path, req.body, req.get_header_value("Idempotency-Key"),
                        req.get_header_value("X-Burnrate-Timestamp"),
                        req.get_header_value("X-Burnrate-Signature"), status, answer, retry_after);
                 res.status = status;
                 if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
                 res.set_content(answer, "application/json");
               });
  if (port_ == 0) {
    port_ = server->bind_to_any_port("127.0.0.1");
  } else if (!server->bind_to_port("127.0.0.1", port_)) {
    throw std::runtime_error("test receiver: cannot listen again on port " + std::to_string(port_));
  }
  if (port_ <= 0) throw std::runtime_error("test receiver: cannot bind");
  httplib::Server* raw = server.get();
  server_ = std::move(server);
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  if (!WaitFor([raw] { return raw->is_running(); }, 10s, "test receiver listening")) {
    throw std::runtime_error("test receiver did not start");
  }
}

void TestReceiver::Down() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

void TestReceiver::Up() {
  if (!server_) Listen();
}

std::string TestReceiver::url() const {
  const std::string base = "http://127.0.0.1:" + std::to_string(port_);
  return kind_ == Kind::kAlertmanager ? base : base + std::string(PathFor(kind_));
}

void TestReceiver::SetMode(Mode mode, int retry_after_seconds) {
  std::lock_guard lock(mu_);
  mode_ = mode;
  retry_after_s_ = retry_after_seconds;
}

void TestReceiver::Handle(const std::string& path, const std::string& body,
                          const std::string& idempotency_key, const std::string& timestamp,
                          const std::string& signature, int& status, std::string& answer,
                          std::string& retry_after) {
  Mode mode;
  int retry_after_s;
  {
    std::lock_guard lock(mu_);
    ++requests_;
    bodies_.push_back(body);
    mode = mode_;
    retry_after_s = retry_after_s_;
  }
  (void)path;
  if (mode == Mode::kHang) {
    // Longer than the client's time-out; a gateway in front would then give
    // up on the request without the service having processed it.
    std::this_thread::sleep_for(400ms);
    status = 504;
    return;
  }
  if (mode == Mode::kError500) {
    status = 500;
    answer = R"({"error":"internal"})";
    return;
  }
  if (mode == Mode::kTooMany429) {
    status = 429;
    retry_after = std::to_string(retry_after_s);
    return;
  }
  std::string error, key;
  const auto j = nlohmann::json::parse(body, nullptr, false);
  switch (kind_) {
    case Kind::kSlack: {
      error = CheckSlackPayload(body);
      if (error.empty()) {
        const std::string header = j["blocks"][0]["text"]["text"];
        const std::string context = j["blocks"].back()["elements"][0]["text"];
        const size_t a = context.find("alert `");
        const size_t b = context.find('`', a + 7);
        key = context.substr(a + 7, b - a - 7) +
              (header.rfind("[RESOLVED]", 0) == 0 ? ":resolved" : ":firing");
      }
      break;
    }
    case Kind::kPagerDuty:
      error = CheckPagerDutyPayload(body, secret_);
      if (error.empty())
        key = j["dedup_key"].get<std::string>() +
              (j["event_action"] == "resolve" ? ":resolved" : ":firing");
      answer = R"({"status":"success","message":"Event processed"})";
      if (error.empty()) status = 202;
      break;
    case Kind::kAlertmanager:
      error = CheckAlertmanagerPayload(body);
      if (error.empty()) {
        // As Alertmanager decides: an alert whose endsAt has passed is resolved.
        const auto ends = ParseRfc3339Ms(j[0]["endsAt"].get<std::string>());
        key = j[0]["labels"]["alert_id"].get<std::string>() +
              (*ends <= WallClockMs() ? ":resolved" : ":firing");
      }
      break;
    case Kind::kWebhook:
      error = CheckWebhookRequest(body, timestamp, signature, secret_);
      if (error.empty() && idempotency_key.empty()) error = "no Idempotency-Key";
      key = idempotency_key;
      break;
  }
  std::lock_guard lock(mu_);
  if (!error.empty()) {
    errors_.push_back(error);
    status = 400;
    answer = R"({"status":"invalid event"})";
    return;
  }
  ++accepted_[key];
  order_.push_back(key);
}

std::map<std::string, int> TestReceiver::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}
std::vector<std::string> TestReceiver::accepted_order() const {
  std::lock_guard lock(mu_);
  return order_;
}
int TestReceiver::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}
std::vector<std::string> TestReceiver::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}
std::vector<std::string> TestReceiver::bodies() const {
  std::lock_guard lock(mu_);
  return bodies_;
}

}  // namespace burnrate::testing
