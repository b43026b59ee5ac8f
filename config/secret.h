// A secret from the config file: read from an environment variable or a
// file, never written in the file itself. Header-only so module config
// structs (alerting, budgets) can hold secrets without depending on config/.
#pragma once

#include <string>

namespace burnrate {

// A secret read from an environment variable or a file. Only `value` holds
// the secret; `source` says where it came from and is safe to print.
struct Secret {
  std::string source;  // "env:NAME" or "file:/path"; empty when unset
  std::string value;
  bool empty() const { return value.empty(); }
};

}  // namespace burnrate
