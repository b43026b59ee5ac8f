// A real Prometheus server (Debian's /usr/bin/prometheus) for tests that
// check the engine's metrics the way operators use them: scraped, then
// queried with the PromQL of the Grafana dashboard and the alert rules.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace burnrate::testing {

struct PrometheusOptions {
  // host:port pairs to scrape (job "burnrate"), e.g. "127.0.0.1:9464".
  std::vector<std::string> targets;
  std::chrono::milliseconds scrape_interval{1000};
  // Rule files (recording or alerting rules) to load, as paths; Prometheus
  // refuses to start if one is invalid, so loading them is a check too.
  std::vector<std::string> rule_files;
  std::string binary = "/usr/bin/prometheus";
};

// What one instant query answered.
struct PromQueryResult {
  bool parsed = false;      // the expression is valid PromQL (and ran)
  bool has_data = false;    // a non-empty vector or matrix, or a scalar/string
  std::string result_type;  // "vector", "matrix", "scalar", "string"
  size_t series = 0;        // elements of a vector or matrix
  double first_value = 0;   // the first sample's value (scalar: the value)
  std::string error;        // Prometheus's error message when not parsed
  std::string body;         // the raw JSON answer
};

// A Prometheus process on a free loopback port, with its config and TSDB in
// a fresh temporary directory. Owned by the test: the destructor stops the
// process (ChildProcess kills it) and removes the directory. Not
// thread-safe. Failures to start throw std::runtime_error, which fails the
// test with the reason and Prometheus's log.
class PrometheusServer {
 public:
  explicit PrometheusServer(PrometheusOptions options);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // http://127.0.0.1:PORT

  // Evaluates `expr` at the current time via /api/v1/query.
  PromQueryResult Query(const std::string& expr) const;

  // Waits until every target has been scraped successfully at least once
  // (up == 1 for all of them); false after `deadline`.
  bool WaitForScrape(std::chrono::milliseconds deadline) const;

  // Prometheus's own log, for failure messages.
  std::string Log() const;

 private:
  void Start();
  bool Ready() const;

  PrometheusOptions options_;
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace burnrate::testing
