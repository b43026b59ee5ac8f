// Helpers shared by the deployment tests: running helm, promtool and the
// burnrate binary, reading files, and the metrics contract.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace burnrate::deploy {

struct CommandResult {
  bool ran_ok = false;  // exited with code 0
  std::string status;   // "exit 0", "signal 9 (Killed)", "timed out"
  std::string out;
  std::string err;
};

// Runs argv to completion (60 s deadline) in the repository root.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& env = {});

std::string SourceDir();  // the repository root
std::string ReadFileOrEmpty(const std::string& path);
// Writes `text` to a fresh file under the test scratch directory; returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

// helm from scripts/bootstrap; empty when missing.
std::string HelmPath();

// Metric names of the metrics contract (docs/deployment.md), with the
// _bucket/_sum/_count series of its histograms.
const std::set<std::string>& ContractMetricNames();

}  // namespace burnrate::deploy
