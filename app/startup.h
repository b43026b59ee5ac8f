// What `run` and `replay` both do before they start: read the config (or take
// the defaults) and the price table it names, reporting any problem on stderr.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/config.h"
#include "core/pricing.h"

namespace burnrate {

struct Startup {
  Config config;
  std::unique_ptr<PriceTable> own_prices;  // set when the config names a file
  const PriceTable* prices = nullptr;      // the table to price with
};

// nullopt after printing "burnrate: FILE:LINE: reason" (exit code 2 follows).
// An empty path means the built-in defaults.
std::optional<Startup> LoadStartup(const std::string& config_path);

}  // namespace burnrate
