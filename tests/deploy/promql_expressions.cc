#include "tests/deploy/promql_expressions.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/status/status.h"

namespace burnrate::deploy {
namespace {

using Json = nlohmann::json;

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Turns a Grafana variable query into PromQL, or "" when it is not one.
std::string VariableQueryToPromql(std::string_view query) {
  std::string q = Trim(query);
  auto strip_call = [&q](std::string_view fn) -> std::string {
    if (q.rfind(fn, 0) != 0) return {};
    std::string_view rest = std::string_view(q).substr(fn.size());
    size_t open = rest.find_first_not_of(" \t");
    if (open == std::string_view::npos || rest[open] != '(' || rest.back() != ')') return {};
    return Trim(rest.substr(open + 1, rest.size() - open - 2));
  };
  if (std::string args = strip_call("label_values"); !args.empty()) {
    // label_values(LABEL) has no selector; label_values(SELECTOR, LABEL) does.
    // The selector may hold commas inside braces, so split at the last comma
    // outside them.
    int depth = 0;
    size_t split = std::string::npos;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == '{' || args[i] == '(') ++depth;
      if (args[i] == '}' || args[i] == ')') --depth;
      if (args[i] == ',' && depth == 0) split = i;
    }
    return split == std::string::npos ? std::string()
                                      : Trim(std::string_view(args).substr(0, split));
  }
  if (std::string args = strip_call("query_result"); !args.empty()) return args;
  if (q.rfind("label_names", 0) == 0 || q.rfind("metrics(", 0) == 0) return {};
  return q;
}

void CollectPanels(const Json& panels, std::vector<PromqlExpression>& out) {
  if (!panels.is_array()) return;
  for (const Json& panel : panels) {
    const std::string title = panel.value("title", std::string("(untitled)"));
    if (panel.contains("targets") && panel["targets"].is_array()) {
      for (const Json& target : panel["targets"]) {
        if (!target.contains("expr") || !target["expr"].is_string()) continue;
        const std::string ref = target.value("refId", std::string("?"));
        out.push_back(
            {"dashboard panel '" + title + "' target " + ref, target["expr"].get<std::string>()});
      }
    }
    if (panel.contains("panels")) CollectPanels(panel["panels"], out);
  }
}

}  // namespace

absl::StatusOr<std::vector<PromqlExpression>> DashboardExpressions(
    std::string_view dashboard_json) {
  Json dashboard = Json::parse(dashboard_json.begin(), dashboard_json.end(), nullptr,
                               /*allow_exceptions=*/false);
  if (dashboard.is_discarded()) return absl::InvalidArgumentError("dashboard is not valid JSON");
  if (!dashboard.is_object() || !dashboard.contains("panels")) {
    return absl::InvalidArgumentError("not a Grafana dashboard: no top-level \"panels\"");
  }
  std::vector<PromqlExpression> out;
  CollectPanels(dashboard["panels"], out);
  if (dashboard.contains("templating") && dashboard["templating"].contains("list")) {
    for (const Json& var : dashboard["templating"]["list"]) {
      if (var.value("type", std::string()) != "query") continue;
      std::string query;
      if (var.contains("query") && var["query"].is_string()) {
        query = var["query"].get<std::string>();
      } else if (var.contains("query") && var["query"].is_object() &&
                 var["query"].contains("query")) {
        query = var["query"]["query"].get<std::string>();
      } else {
        query = var.value("definition", std::string());
      }
      std::string expr = VariableQueryToPromql(query);
      if (!expr.empty())
        out.push_back({"dashboard variable " + var.value("name", std::string("?")), expr});
    }
  }
  return out;
}

absl::StatusOr<std::vector<PromqlExpression>> RuleExpressions(std::string_view rules_yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(rules_yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("rule file is not valid YAML: ") + e.what());
  }
  if (!root.IsMap() || !root["groups"] || !root["groups"].IsSequence()) {
    return absl::InvalidArgumentError("not a Prometheus rule file: no \"groups\" list");
  }
  std::vector<PromqlExpression> out;
  for (const auto& group : root["groups"]) {
    const std::string group_name = group["name"] ? group["name"].as<std::string>() : "?";
    if (!group["rules"]) continue;
    for (const auto& rule : group["rules"]) {
      if (!rule["expr"])
        return absl::InvalidArgumentError("a rule in group " + group_name + " has no expr");
      const std::string name = rule["alert"]    ? rule["alert"].as<std::string>()
                               : rule["record"] ? rule["record"].as<std::string>()
                                                : "?";
      out.push_back({"rule " + group_name + "/" + name, Trim(rule["expr"].as<std::string>())});
    }
  }
  return out;
}

absl::StatusOr<std::vector<PromqlExpression>> ShippedExpressions(const std::string& source_dir) {
  namespace fs = std::filesystem;
  auto read = [](const fs::path& path) -> absl::StatusOr<std::string> {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError("cannot read " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  const fs::path root(source_dir);
  auto dashboard = read(root / "dashboards" / "burnrate.json");
  if (!dashboard.ok()) return dashboard.status();
  auto out = DashboardExpressions(*dashboard);
  if (!out.ok()) return out.status();
  std::vector<fs::path> rule_files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root / "dashboards" / "rules", ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() > 11 && name.ends_with(".rules.yaml"))
      rule_files.push_back(entry.path());
  }
  if (ec) return absl::NotFoundError("cannot list dashboards/rules: " + ec.message());
  std::sort(rule_files.begin(), rule_files.end());
  for (const auto& file : rule_files) {
    auto text = read(file);
    if (!text.ok()) return text.status();
    auto rules = RuleExpressions(*text);
    if (!rules.ok())
      return absl::InvalidArgumentError(file.filename().string() + ": " +
                                        std::string(rules.status().message()));
    for (auto& r : *rules)
      out->push_back({file.filename().string() + ": " + r.name, std::move(r.expr)});
  }
  return out;
}

std::string SubstituteGrafanaVariables(std::string_view expr, std::string_view range) {
  static const std::set<std::string, std::less<>> kIntervals = {"__rate_interval", "__interval",
                                                                "__range"};
  std::string out;
  size_t i = 0;
  while (i < expr.size()) {
    std::string name;
    size_t next = i;
    if (expr[i] == '$' && i + 1 < expr.size() && expr[i + 1] == '{') {
      const size_t close = expr.find('}', i);
      if (close == std::string_view::npos) break;
      name = std::string(expr.substr(i + 2, close - i - 2));
      name = name.substr(0, name.find(':'));  // ${var:regex}
      next = close + 1;
    } else if (expr[i] == '$' && i + 1 < expr.size() && IsIdentStart(expr[i + 1])) {
      next = i + 1;
      while (next < expr.size() && IsIdentChar(expr[next]) && expr[next] != ':') ++next;
      name = std::string(expr.substr(i + 1, next - i - 1));
    } else if (expr.substr(i, 2) == "[[") {
      const size_t close = expr.find("]]", i);
      if (close == std::string_view::npos) break;
      name = std::string(expr.substr(i + 2, close - i - 2));
      next = close + 2;
    } else {
      out += expr[i++];
      continue;
    }
    out += kIntervals.contains(name) ? std::string(range) : std::string(".*");
    i = next;
  }
  out += expr.substr(std::min(i, expr.size()));
  return out;
}

std::vector<std::string> MetricNames(std::string_view expr) {
  // Words that are never metric names; grouping keywords are followed by a
  // label list in parentheses, which is skipped with them.
  static const std::set<std::string, std::less<>> kGrouping = {
      "by", "without", "on", "ignoring", "group_left", "group_right"};
  // Aggregations may put `by (...)` between their name and their argument.
  static const std::set<std::string, std::less<>> kKeywords = {
      "and",   "or",           "unless",  "bool", "offset",   "Inf",    "NaN",        "inf",
      "nan",   "sum",          "min",     "max",  "avg",      "group",  "stddev",     "stdvar",
      "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"};
  std::vector<std::string> names;
  auto skip_until = [&expr](size_t i, char open, char close) {
    int depth = 0;
    for (; i < expr.size(); ++i) {
      const char c = expr[i];
      if (c == '"' || c == '\'' || c == '`') {
        for (++i; i < expr.size() && expr[i] != c; ++i) {
          if (expr[i] == '\\') ++i;
        }
        continue;
      }
      if (c == open) ++depth;
      if (c == close && --depth == 0) return i + 1;
    }
    return expr.size();
  };
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '"' || c == '\'' || c == '`') {
      for (++i; i < expr.size() && expr[i] != c; ++i) {
        if (expr[i] == '\\') ++i;
      }
      ++i;
    } else if (c == '{') {
      i = skip_until(i, '{', '}');
    } else if (c == '[') {
      i = skip_until(i, '[', ']');
    } else if (c == '#') {  // comment to the end of the line
      while (i < expr.size() && expr[i] != '\n') ++i;
    } else if (c == '$') {
      ++i;
      if (i < expr.size() && expr[i] == '{') {
        i = skip_until(i, '{', '}');
      } else {
        while (i < expr.size() && IsIdentChar(expr[i])) ++i;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < expr.size() &&
                std::isdigit(static_cast<unsigned char>(expr[i + 1])))) {
      // Numbers and durations: 0.99, 1e-9, 0x1F, 5m, 1h30m.
      ++i;
      while (i < expr.size() &&
             (IsIdentChar(expr[i]) || expr[i] == '.' ||
              ((expr[i] == '-' || expr[i] == '+') && (expr[i - 1] == 'e' || expr[i - 1] == 'E')))) {
        ++i;
      }
    } else if (IsIdentStart(c)) {
      const size_t start = i;
      while (i < expr.size() && IsIdentChar(expr[i])) ++i;
      const std::string word(expr.substr(start, i - start));
      size_t after = i;
      while (after < expr.size() && std::isspace(static_cast<unsigned char>(expr[after]))) ++after;
      const bool call = after < expr.size() && expr[after] == '(';
      if (kGrouping.contains(word)) {
        if (call) i = skip_until(after, '(', ')');
      } else if (kKeywords.contains(word) || call) {
        // a keyword, or a function/aggregation name
      } else if (std::find(names.begin(), names.end(), word) == names.end()) {
        names.push_back(word);
      }
    } else {
      ++i;
    }
  }
  return names;
}

}  // namespace burnrate::deploy
