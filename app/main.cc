// burnrate: a real-time engine for LLM spend. See README.md and docs/.
#include <CLI/CLI.hpp>

#include <iostream>
#include <vector>

#include "app/commands.h"
#include "app/version.h"

int main(int argc, char** argv) {
  CLI::App app{"burnrate: watches LLM spend as it happens (cost events in, windows and alerts out)",
               "burnrate"};
  app.set_version_flag("--version", std::string(burnrate::kVersion));
  app.require_subcommand(1);

  std::vector<std::pair<CLI::App*, burnrate::CommandRunner>> commands;
  const auto add = [&](burnrate::CommandRunner (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    burnrate::CommandRunner runner = adder(app);
    commands.emplace_back(app.get_subcommands({}).at(before), std::move(runner));
  };
  add(burnrate::AddRunCommand);
  add(burnrate::AddReplayCommand);
  add(burnrate::AddCheckConfigCommand);
  add(burnrate::AddSimulateCommand);
  add(burnrate::AddEvaluateCommand);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? burnrate::kExitOk : burnrate::kExitBadUsage;
  }
  for (auto& [sub, run] : commands) {
    if (sub->parsed()) return run();
  }
  return burnrate::kExitBadUsage;
}
