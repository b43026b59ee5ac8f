// A small reader of the Prometheus text format for tests: parses every
// sample line back into name, labels and value, unescaping label values as a
// Prometheus server would, and fails loudly on anything malformed.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace burnrate::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// nullopt if any line is not a comment, a blank line or a valid sample.
inline std::optional<std::vector<Sample>> ParseExposition(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name.push_back(line[i++]);
    if (s.name.empty() || i == line.size()) return std::nullopt;
    if (line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key.push_back(line[i++]);
        if (i + 1 >= line.size() || line[i + 1] != '"') return std::nullopt;
        i += 2;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i == line.size()) return std::nullopt;
            char e = line[i++];
            if (e == 'n')
              value.push_back('\n');
            else if (e == '\\' || e == '"')
              value.push_back(e);
            else
              return std::nullopt;
          } else {
            value.push_back(c);
          }
        }
        if (!closed || !s.labels.emplace(key, value).second) return std::nullopt;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i == line.size()) return std::nullopt;
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') return std::nullopt;
    const std::string number = line.substr(i + 1);
    char* end = nullptr;
    s.value = std::strtod(number.c_str(), &end);
    if (number.empty() || (*end != '\0' && *end != ' ')) return std::nullopt;
    out.push_back(std::move(s));
  }
  return out;
}

inline double SumOf(const std::vector<Sample>& samples, const std::string& name) {
  double sum = 0;
  for (const auto& s : samples) {
    if (s.name == name) sum += s.value;
  }
  return sum;
}

inline const Sample* Find(const std::vector<Sample>& samples, const std::string& name,
                          const std::map<std::string, std::string>& labels) {
  for (const auto& s : samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

}  // namespace burnrate::testing
