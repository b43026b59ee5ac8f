// Line-aware readers for config YAML, shared by the sections of the config
// file (config.cc and the per-module *_section.cc files). Every error names
// the file and the line: "FILE:LINE: reason".
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "config/config.h"
#include "core/concat.h"

namespace burnrate {

// Carries the file name so every error can say where it is.
class YamlReader {
 public:
  explicit YamlReader(std::string source) : source_(std::move(source)) {}

  absl::Status Error(const YAML::Node& node, std::string_view reason) const {
    const int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    return absl::InvalidArgumentError(Concat(source_, ":", line, ": ", reason));
  }

  // Rejects keys of `node` not in `allowed`: a typo must not silently fall
  // back to a default.
  absl::Status OnlyKeys(const YAML::Node& node, std::string_view where,
                        std::initializer_list<std::string_view> allowed) const {
    if (!node.IsMap()) return Error(node, Concat(where, " must be a mapping"));
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      bool known = false;
      for (auto a : allowed) known |= a == key;
      if (!known) {
        return Error(kv.first, Concat("unknown key '", key, "' in ", where, " (expected one of: ",
                                            JoinStrings(allowed, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status String(const YAML::Node& node, std::string_view name, std::string& out) const {
    if (!node) return absl::OkStatus();
    if (!node.IsScalar()) return Error(node, Concat(name, " must be a string"));
    out = node.as<std::string>();
    return absl::OkStatus();
  }

  // A Kafka topic name as the broker accepts it: 1-249 characters of
  // [A-Za-z0-9._-], and neither "." nor "..". Checked here because a bad
  // name is otherwise found only when the first record to it is refused,
  // which for an output topic stops the replica mid-stream.
  absl::Status TopicName(const YAML::Node& node, std::string_view name, std::string& out) const {
    if (!node) return absl::OkStatus();
    std::string topic;
    if (auto s = String(node, name, topic); !s.ok()) return s;
    if (topic.empty() || topic.size() > 249) {
      return Error(node, Concat(name, " must be 1 to 249 characters long, got ", topic.size()));
    }
    if (topic == "." || topic == "..") return Error(node, Concat(name, " cannot be '", topic, "'"));
    for (char ch : topic) {
      const bool legal = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                         ch == '.' || ch == '_' || ch == '-';
      if (!legal) {
        return Error(node, Concat(name, " '", topic,
                                  "' is not a Kafka topic name (letters, digits, '.', '_' and '-' only)"));
      }
    }
    out = std::move(topic);
    return absl::OkStatus();
  }

  absl::Status Int(const YAML::Node& node, std::string_view name, int64_t min, int64_t max,
                   int64_t& out) const {
    if (!node) return absl::OkStatus();
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    int64_t v;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
      return Error(node, Concat(name, " must be an integer, got '", text, "'"));
    }
    if (v < min || v > max) {
      return Error(node, Concat(name, " must be between ", min, " and ", max, ", got ", v));
    }
    out = v;
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status IntAs(const YAML::Node& node, std::string_view name, int64_t min, int64_t max, T& out) const {
    int64_t v = static_cast<int64_t>(out);
    if (auto s = Int(node, name, min, max, v); !s.ok()) return s;
    out = static_cast<T>(v);
    return absl::OkStatus();
  }

  absl::Status Double(const YAML::Node& node, std::string_view name, double min, double max,
                      double& out) const {
    if (!node) return absl::OkStatus();
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    char* end = nullptr;
    const double v = text.empty() ? 0 : std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || v != v) {
      return Error(node, Concat(name, " must be a number, got '", text, "'"));
    }
    if (v < min || v > max) {
      return Error(node, Concat(name, " must be between ", min, " and ", max, ", got ", text));
    }
    out = v;
    return absl::OkStatus();
  }

  absl::Status Bool(const YAML::Node& node, std::string_view name, bool& out) const {
    if (!node) return absl::OkStatus();
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    if (text == "true") out = true;
    else if (text == "false") out = false;
    else return Error(node, Concat(name, " must be true or false, got '", text, "'"));
    return absl::OkStatus();
  }

  absl::Status Duration(const YAML::Node& node, std::string_view name, int64_t min_ms, int64_t max_ms,
                        int64_t& out) const {
    if (!node) return absl::OkStatus();
    auto parsed = ParseDurationMs(node.IsScalar() ? node.Scalar() : "");
    if (!parsed.ok()) return Error(node, Concat(name, ": ", std::string(parsed.status().message())));
    if (*parsed < min_ms || *parsed > max_ms) {
      return Error(node, Concat(name, " must be between ", FormatDurationMs(min_ms), " and ",
                                      FormatDurationMs(max_ms), ", got ", node.Scalar()));
    }
    out = *parsed;
    return absl::OkStatus();
  }

  absl::Status StringList(const YAML::Node& node, std::string_view name, std::vector<std::string>& out) const {
    if (!node) return absl::OkStatus();
    if (!node.IsSequence()) return Error(node, Concat(name, " must be a list of strings"));
    out.clear();
    for (const auto& item : node) {
      if (!item.IsScalar()) return Error(item, Concat(name, " must be a list of strings"));
      out.push_back(item.as<std::string>());
    }
    return absl::OkStatus();
  }

  // A secret is {env: NAME} or {file: PATH}; never a literal, so it cannot
  // end up in a config file checked into git.
  absl::Status SecretValue(const YAML::Node& node, std::string_view name, Secret& out) const {
    if (!node) return absl::OkStatus();
    if (!node.IsMap()) {
      return Error(node, Concat(name, " must be {env: VARIABLE} or {file: PATH}, not a literal"));
    }
    if (auto s = OnlyKeys(node, name, {"env", "file"}); !s.ok()) return s;
    if (node["env"]) {
      const std::string var = node["env"].as<std::string>();
      const char* value = std::getenv(var.c_str());
      if (!value || !*value) return Error(node, Concat(name, ": environment variable ", var, " is not set"));
      out = {Concat("env:", var), value};
    } else if (node["file"]) {
      const std::string path = node["file"].as<std::string>();
      std::ifstream in(path, std::ios::binary);
      if (!in) return Error(node, Concat(name, ": cannot read secret file ", path));
      std::stringstream ss;
      ss << in.rdbuf();
      std::string value = ss.str();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
      out = {Concat("file:", path), value};
    } else {
      return Error(node, Concat(name, " must name env or file"));
    }
    return absl::OkStatus();
  }

 private:
  std::string source_;
};


#define BR_RETURN_IF_ERROR(expr)          \
  do {                                    \
    if (auto _s = (expr); !_s.ok()) return _s; \
  } while (0)

}  // namespace burnrate
