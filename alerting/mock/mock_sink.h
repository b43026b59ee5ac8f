// A sink for tests: records every delivery and answers with scripted
// outcomes (ok by default), so the delivery service can be tested without a
// network. Thread-safe; shared with the test through a shared_ptr and
// handed to the service with MockAlertSink::Handle().
#pragma once

#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "alerting/sink.h"

namespace burnrate {

class MockAlertSink {
 public:
  struct Call {
    Alert alert;
    DeliveryContext context;
    SinkResult result;
  };

  // Outcomes returned by the next calls, in order; then `otherwise`.
  void Script(std::vector<SinkResult> outcomes) {
    std::lock_guard lock(mu_);
    for (auto& o : outcomes) script_.push_back(std::move(o));
  }
  void SetDefault(SinkResult result) {
    std::lock_guard lock(mu_);
    otherwise_ = std::move(result);
  }
  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  size_t ok_count() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& c : calls_) n += c.result.ok();
    return n;
  }

  SinkResult Deliver(const Alert& alert, const DeliveryContext& context) {
    std::lock_guard lock(mu_);
    SinkResult r = otherwise_;
    if (!script_.empty()) {
      r = std::move(script_.front());
      script_.pop_front();
    }
    calls_.push_back({alert, context, r});
    return r;
  }

  // An AlertSink that forwards to this mock.
  static AlertSinkPtr Handle(std::shared_ptr<MockAlertSink> mock) {
    struct Forwarder : AlertSink {
      std::shared_ptr<MockAlertSink> m;
      SinkResult Deliver(const Alert& a, const DeliveryContext& c) override {
        return m->Deliver(a, c);
      }
    };
    auto f = std::make_unique<Forwarder>();
    f->m = std::move(mock);
    return f;
  }

 private:
  mutable std::mutex mu_;
  std::deque<SinkResult> script_;
  SinkResult otherwise_ = SinkResult::Ok();
  std::vector<Call> calls_;
};

}  // namespace burnrate
