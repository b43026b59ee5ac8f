#include "app/startup.h"

#include <iostream>

namespace burnrate {

std::optional<Startup> LoadStartup(const std::string& config_path) {
  Startup s;
  s.config = DefaultConfig();
  if (!config_path.empty()) {
    auto loaded = LoadConfig(config_path);
    if (!loaded.ok()) {
      std::cerr << "burnrate: " << loaded.status().message() << "\n";
      return std::nullopt;
    }
    s.config = *std::move(loaded);
  }
  s.prices = &PriceTable::Default();
  if (!s.config.price_table_file.empty()) {
    auto table = PriceTable::LoadFile(s.config.price_table_file);
    if (!table.ok()) {
      std::cerr << "burnrate: " << table.status().message() << "\n";
      return std::nullopt;
    }
    s.own_prices = std::make_unique<PriceTable>(*std::move(table));
    s.prices = s.own_prices.get();
  }
  return s;
}

}  // namespace burnrate
