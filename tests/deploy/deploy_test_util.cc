#include "tests/deploy/deploy_test_util.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "tests/support/process.h"
#include "tests/support/scratch.h"

namespace burnrate::deploy {

std::string SourceDir() { return BURNRATE_SOURCE_DIR; }

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  // One directory for the test process, removed when it exits (kept if a test failed).
  static const testing::ScratchDir dir("burnrate-deploy-test");
  const std::string path = dir.File(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& env) {
  testing::ChildProcessOptions options;
  options.argv = argv;
  options.env = env;
  options.working_dir = SourceDir();
  testing::ChildProcess child(options);
  CommandResult result;
  auto status = child.Wait(std::chrono::seconds(60));
  if (!status) {
    result.status = "timed out";
    return result;  // the destructor kills and reaps it
  }
  result.ran_ok = status->ok();
  result.status = status->ToString();
  result.out = child.ReadStdout();
  result.err = child.ReadStderr();
  return result;
}

std::string HelmPath() {
  const std::string path = SourceDir() + "/.cache/bin/helm";
  return access(path.c_str(), X_OK) == 0 ? path : std::string();
}

const std::set<std::string>& ContractMetricNames() {
  static const std::set<std::string> names = [] {
    std::set<std::string> n = {
        "burnrate_build_info",
        "burnrate_messages_consumed_total",
        "burnrate_events_decoded_total",
        "burnrate_events_dead_lettered_total",
        "burnrate_events_duplicate_total",
        "burnrate_events_late_total",
        "burnrate_events_unpriced_total",
        "burnrate_window_key_overflow_total",
        "burnrate_consumer_lag_messages",
        "burnrate_partitions_assigned",
        "burnrate_windows_closed_total",
        "burnrate_checkpoints_total",
        "burnrate_redis_errors_total",
        "burnrate_alerts_total",
        "burnrate_alerts_firing",
        "burnrate_alert_deliveries_total",
        "burnrate_alert_outbox_pending",
        "burnrate_quota_tenants",
        "burnrate_decision_requests_total",
        "burnrate_ready",
        "burnrate_cost_usd_total",
        "burnrate_tokens_total",
        "burnrate_llm_calls_total",
        "burnrate_model_cost_usd_total",
        "burnrate_baseline_cost_usd",
        "burnrate_window_cost_usd",
    };
    for (const char* histogram :
         {"burnrate_window_close_delay_seconds", "burnrate_redis_operation_duration_seconds"}) {
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        n.insert(std::string(histogram) + suffix);
    }
    return n;
  }();
  return names;
}

}  // namespace burnrate::deploy
