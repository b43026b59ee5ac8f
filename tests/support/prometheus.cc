#include "tests/support/prometheus.h"

#include <httplib.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tests/support/wait.h"

namespace burnrate::testing {
namespace {

std::string MakeTempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/burnrate-prometheus-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::string Seconds(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

// The scrape config, as JSON (which is YAML), so quoting is never a question.
std::string ConfigYaml(const PrometheusOptions& o) {
  nlohmann::json config;
  config["global"] = {{"scrape_interval", Seconds(o.scrape_interval)},
                      {"evaluation_interval", Seconds(o.scrape_interval)}};
  config["scrape_configs"] = nlohmann::json::array(
      {{{"job_name", "burnrate"},
        {"scrape_interval", Seconds(o.scrape_interval)},
        {"scrape_timeout", Seconds(o.scrape_interval)},
        {"static_configs", nlohmann::json::array({{{"targets", o.targets}}})}}});
  if (!o.rule_files.empty()) config["rule_files"] = o.rule_files;
  return config.dump(2);
}

}  // namespace

PrometheusServer::PrometheusServer(PrometheusOptions options) : options_(std::move(options)) {
  dir_ = MakeTempDir();
  try {
    Start();
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

void PrometheusServer::Start() {
  {
    std::ofstream out(dir_ + "/prometheus.yml");
    out << ConfigYaml(options_);
    if (!out) throw std::runtime_error("cannot write " + dir_ + "/prometheus.yml");
  }
  // The free port may be taken by someone else before Prometheus binds it:
  // try a few.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreeLoopbackPort();
    ChildProcessOptions child;
    child.argv = {options_.binary, "--config.file=" + dir_ + "/prometheus.yml",
                  "--storage.tsdb.path=" + dir_ + "/data",
                  "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    child.stdout_path = dir_ + "/stdout.log";
    child.stderr_path = dir_ + "/prometheus.log";
    process_ = std::make_unique<ChildProcess>(std::move(child));
    if (WaitFor([&] { return !process_->Running() || Ready(); }, std::chrono::seconds(30),
                "prometheus /-/ready") &&
        process_->Running()) {
      return;
    }
    const std::string log = Log();
    process_.reset();
    if (log.find("address already in use") == std::string::npos) {
      throw std::runtime_error("prometheus did not become ready:\n" + log);
    }
  }
  throw std::runtime_error("prometheus found no free port:\n" + Log());
}

PrometheusServer::~PrometheusServer() {
  if (process_) {
    process_->Kill(SIGTERM);
    if (!process_->Wait(std::chrono::seconds(10))) process_->Kill(SIGKILL);
    process_.reset();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string PrometheusServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string PrometheusServer::Log() const { return ReadFile(dir_ + "/prometheus.log"); }

bool PrometheusServer::Ready() const {
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(1);
  client.set_read_timeout(2);
  auto response = client.Get("/-/ready");
  return response && response->status == 200;
}

PromQueryResult PrometheusServer::Query(const std::string& expr) const {
  PromQueryResult result;
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  auto response = client.Post("/api/v1/query", httplib::Params{{"query", expr}});
  if (!response) {
    result.error = "no answer from prometheus: " + httplib::to_string(response.error());
    return result;
  }
  result.body = response->body;
  const auto json = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    result.error = "not JSON: " + response->body;
    return result;
  }
  if (json.value("status", "") != "success") {
    result.error = json.value("errorType", "") + ": " + json.value("error", "");
    return result;
  }
  result.parsed = true;
  const auto& data = json["data"];
  result.result_type = data.value("resultType", "");
  const auto& r = data["result"];
  if (result.result_type == "vector" || result.result_type == "matrix") {
    result.series = r.size();
    result.has_data = !r.empty();
    if (result.has_data) {
      const auto& first = r[0];
      const auto& sample = result.result_type == "vector" ? first["value"] : first["values"][0];
      result.first_value = std::strtod(sample[1].get<std::string>().c_str(), nullptr);
    }
  } else if (r.is_array() && r.size() == 2) {  // scalar or string: [time, "value"]
    result.has_data = true;
    result.first_value = std::strtod(r[1].get<std::string>().c_str(), nullptr);
  }
  return result;
}

bool PrometheusServer::WaitForScrape(std::chrono::milliseconds deadline) const {
  const std::string expr =
      "count(up{job=\"burnrate\"} == 1) == " + std::to_string(options_.targets.size());
  return WaitFor([&] { return Query(expr).has_data; }, deadline, "every target scraped");
}

}  // namespace burnrate::testing
