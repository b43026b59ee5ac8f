// The sub-commands of the `burnrate` binary. Each registers its options on
// the CLI11 app and returns the function that runs it (exit code: 0 ok,
// 2 bad usage or config, 1 runtime failure).
#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace burnrate {

using CommandRunner = std::function<int()>;

CommandRunner AddReplayCommand(CLI::App& app);
CommandRunner AddCheckConfigCommand(CLI::App& app);
CommandRunner AddRunCommand(CLI::App& app);
CommandRunner AddSimulateCommand(CLI::App& app);
CommandRunner AddEvaluateCommand(CLI::App& app);

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeFailure = 1;
inline constexpr int kExitBadUsage = 2;

}  // namespace burnrate
