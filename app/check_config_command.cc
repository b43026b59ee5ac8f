#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "app/commands.h"
#include "config/config.h"
#include "core/pricing.h"

namespace burnrate {

CommandRunner AddCheckConfigCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("check-config", "Validate a config file and explain what it does");
  auto path = std::make_shared<std::string>();
  cmd->add_option("file", *path, "The YAML config file")->required();
  return [path]() {
    auto config = LoadConfig(*path);
    if (!config.ok()) {
      std::cerr << "burnrate: " << config.status().message() << "\n";
      return kExitBadUsage;
    }
    if (!config->price_table_file.empty()) {
      auto table = PriceTable::LoadFile(config->price_table_file);
      if (!table.ok()) {
        std::cerr << "burnrate: " << table.status().message() << "\n";
        return kExitBadUsage;
      }
      std::cout << "price table: " << config->price_table_file << " version " << table->version() << ", "
                << table->model_count() << " models\n";
    } else {
      const PriceTable& table = PriceTable::Default();
      std::cout << "price table: shipped, version " << table.version() << " (compiled "
                << table.compiled_on() << "), " << table.model_count() << " models\n";
    }
    std::cout << ExplainConfig(*config) << "ok\n";
    return kExitOk;
  };
}

}  // namespace burnrate
