// `burnrate evaluate`: scores burnrate's alerts against the labels of a
// simulated run (burnrate simulate), beside simple baselines (a static
// threshold and an EWMA 3-sigma band) run on the same closed windows:
// precision, recall, false alerts per 1,000 key-days, detection delay and
// time to resolve per incident kind. Prints a Markdown report.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "absl/container/flat_hash_set.h"
#include "app/commands.h"
#include "app/line_reader.h"
#include "core/concat.h"
#include "core/time_format.h"
#include "evaluation/baselines.h"
#include "evaluation/scoring.h"

namespace burnrate {
namespace {

struct EvaluateOptions {
  std::string labels;
  std::string alerts;
  std::string windows;
  std::string meta;
  std::string warmup_end;
  std::string end;
  std::string json_out;
  double static_factor = 1.5;
  double ewma_alpha = 0.05;
  double ewma_sigmas = 3.0;
};

std::optional<int64_t> ParseTime(const nlohmann::json& j, const char* ms_name, const char* name) {
  if (auto it = j.find(ms_name); it != j.end() && it->is_number()) return it->get<int64_t>();
  if (auto it = j.find(name); it != j.end() && it->is_string()) return ParseRfc3339Ms(it->get<std::string>());
  return std::nullopt;
}

std::string Seconds(double s) {
  if (std::isnan(s)) return "–";
  char buf[32];
  if (std::abs(s) >= 3600) {
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  } else if (std::abs(s) >= 120) {
    std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  }
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

nlohmann::json ScoreJson(const std::string& name, const Score& s) {
  nlohmann::json j = {{"detector", name},
                      {"alerts", s.alerts},
                      {"true_alerts", s.true_alerts},
                      {"incidents", s.incidents},
                      {"detected", s.detected},
                      {"precision", s.precision},
                      {"recall", s.recall},
                      {"key_days", s.key_days},
                      {"false_alerts_per_1000_key_days", s.false_alerts_per_1000_key_days},
                      {"missed", s.missed}};
  for (const auto& [kind, k] : s.by_kind) {
    j["by_kind"][kind] = {{"incidents", k.incidents},
                          {"detected", k.detected},
                          {"delay_median_s", Percentile(k.delays_s, 0.5)},
                          {"delay_p95_s", Percentile(k.delays_s, 0.95)},
                          {"resolve_median_s", Percentile(k.resolve_s, 0.5)}};
  }
  for (const auto& [name, k] : s.by_delay_target) {
    j["by_delay_target"][name] = {{"incidents", k.incidents},
                                  {"detected", k.detected},
                                  {"delay_median_s", Percentile(k.delays_s, 0.5)}};
  }
  return j;
}

int RunEvaluate(const EvaluateOptions& opt) {
  auto incidents = ReadIncidents(opt.labels);
  if (!incidents.ok()) {
    std::cerr << "burnrate: " << incidents.status().message() << "\n";
    return kExitBadUsage;
  }
  auto alerts = ReadAlerts(opt.alerts);
  if (!alerts.ok()) {
    std::cerr << "burnrate: " << alerts.status().message() << "\n";
    return kExitBadUsage;
  }
  ScoringOptions scoring;
  if (!opt.meta.empty()) {
    std::ifstream in(opt.meta);
    try {
      const auto meta = nlohmann::json::parse(in);
      scoring.warmup_end_ms = ParseTime(meta, "warmup_end_ms", "warmup_end").value_or(0);
      scoring.end_ms = ParseTime(meta, "end_ms", "end").value_or(INT64_MAX);
    } catch (const nlohmann::json::exception& e) {
      std::cerr << "burnrate: " << opt.meta << ": " << e.what() << "\n";
      return kExitBadUsage;
    }
  }
  if (!opt.warmup_end.empty()) scoring.warmup_end_ms = ParseRfc3339Ms(opt.warmup_end).value_or(0);
  if (!opt.end.empty()) scoring.end_ms = ParseRfc3339Ms(opt.end).value_or(INT64_MAX);
  if (scoring.end_ms == 0) scoring.end_ms = INT64_MAX;

  // The baselines run over the closed windows; keys are counted there too.
  std::vector<std::unique_ptr<BaselineDetector>> baselines;
  baselines.push_back(MakeStaticThreshold(scoring.warmup_end_ms, opt.static_factor));
  baselines.push_back(MakeEwma(scoring.warmup_end_ms, opt.ewma_alpha, opt.ewma_sigmas));
  absl::flat_hash_set<std::string> keys_after_warmup;
  int64_t last_window = INT64_MIN, last_size = 60'000, max_window_end = 0;
  if (!opt.windows.empty()) {
    LineReader reader(opt.windows);
    if (!reader.ok()) {
      std::cerr << "burnrate: cannot read " << reader.error() << "\n";
      return kExitBadUsage;
    }
    std::string_view line;
    simdjson::ondemand::parser parser;
    std::string padded, tenant_copy, feature_copy, environment_copy, start_copy, end_copy, scope_copy;
    while (reader.Next(line)) {
      if (line.empty()) continue;
      scope_copy = "key";
      // Millions of rows: simdjson, not a DOM per line.
      padded.assign(line.data(), line.size());
      padded.append(simdjson::SIMDJSON_PADDING, ' ');
      simdjson::ondemand::document doc;
      if (parser.iterate(padded.data(), line.size(), padded.size()).get(doc)) continue;
      std::string_view scope = "key", tenant, feature, environment, start_text, end_text;
      double cost = 0;
      bool bad = false;
      for (auto field : doc.get_object()) {
        std::string_view name;
        if (field.unescaped_key().get(name)) {
          bad = true;
          break;
        }
        auto value = field.value();
        if (name == "scope") bad |= value.get_string().get(scope) != simdjson::SUCCESS;
        else if (name == "tenant") bad |= value.get_string().get(tenant) != simdjson::SUCCESS;
        else if (name == "feature") bad |= value.get_string().get(feature) != simdjson::SUCCESS;
        else if (name == "environment") bad |= value.get_string().get(environment) != simdjson::SUCCESS;
        else if (name == "window_start") bad |= value.get_string().get(start_text) != simdjson::SUCCESS;
        else if (name == "window_end") bad |= value.get_string().get(end_text) != simdjson::SUCCESS;
        else if (name == "cost_usd") bad |= value.get_double().get(cost) != simdjson::SUCCESS;
        if (bad) break;
        // String views die with the next field read: copy what is kept.
        if (name == "tenant") tenant_copy.assign(tenant);
        if (name == "feature") feature_copy.assign(feature);
        if (name == "environment") environment_copy.assign(environment);
        if (name == "window_start") start_copy.assign(start_text);
        if (name == "window_end") end_copy.assign(end_text);
        if (name == "scope") scope_copy.assign(scope);
      }
      if (bad || scope_copy != "key") continue;
      BaselineRow row;
      row.tenant = tenant_copy;
      row.feature = feature_copy;
      row.environment = environment_copy;
      row.cost_usd = cost;
      row.window_start_ms = ParseRfc3339Ms(start_copy).value_or(0);
      const int64_t end = ParseRfc3339Ms(end_copy).value_or(row.window_start_ms + 60'000);
      row.window_size_ms = end - row.window_start_ms;
      if (row.window_start_ms != last_window && last_window != INT64_MIN) {
        for (auto& b : baselines) b->EndWindow(last_window, last_size);
      }
      last_window = row.window_start_ms;
      last_size = row.window_size_ms;
      scoring.window_ms = row.window_size_ms;
      max_window_end = std::max(max_window_end, end);
      if (row.window_start_ms >= scoring.warmup_end_ms) {
        keys_after_warmup.insert(Concat(row.tenant, "/", row.feature, "/", row.environment));
      }
      for (auto& b : baselines) b->Observe(row);
    }
    if (last_window != INT64_MIN) {
      for (auto& b : baselines) b->EndWindow(last_window, last_size);
    }
    if (scoring.end_ms == INT64_MAX) scoring.end_ms = max_window_end;
  }
  scoring.key_count = static_cast<double>(keys_after_warmup.size());

  std::vector<std::pair<std::string, Score>> scores;
  scores.emplace_back("burnrate", ScoreAlerts(*incidents, *alerts, scoring));
  ScoringOptions any_kind = scoring;
  any_kind.match_any_kind = true;
  for (auto& b : baselines) scores.emplace_back(b->name(), ScoreAlerts(*incidents, b->TakeAlerts(), any_kind));

  std::cout << "## Detection quality\n\n"
            << "Scored from " << FormatRfc3339Ms(scoring.warmup_end_ms) << " (end of warm-up) to "
            << FormatRfc3339Ms(scoring.end_ms) << "; " << keys_after_warmup.size() << " keys, "
            << Fixed(scores[0].second.key_days, 0) << " key-days.\n\n"
            << "| detector | alerts | true | precision | recall | false alerts / 1,000 key-days |\n"
            << "|---|---:|---:|---:|---:|---:|\n";
  for (const auto& [name, s] : scores) {
    std::cout << "| " << name << " | " << s.alerts << " | " << s.true_alerts << " | " << Fixed(s.precision, 3)
              << " | " << Fixed(s.recall, 3) << " (" << s.detected << "/" << s.incidents << ") | "
              << Fixed(s.false_alerts_per_1000_key_days, 2) << " |\n";
  }
  const Score& ours = scores[0].second;
  std::cout << "\n### burnrate by incident kind\n\n"
            << "| incident kind | incidents | detected | delay median | delay p95 | resolved after end (median) |\n"
            << "|---|---:|---:|---:|---:|---:|\n";
  for (const auto& [kind, k] : ours.by_kind) {
    std::cout << "| " << kind << " | " << k.incidents << " | " << k.detected << " | "
              << Seconds(Percentile(k.delays_s, 0.5)) << " | " << Seconds(Percentile(k.delays_s, 0.95)) << " | "
              << Seconds(Percentile(k.resolve_s, 0.5)) << " |\n";
  }
  std::cout << "\n### burnrate against the delay targets\n\n"
            << "| incidents | count | detected | delay median | target (median) | |\n"
            << "|---|---:|---:|---:|---:|---|\n";
  for (const auto& [name, k] : ours.by_delay_target) {
    const double target_s = ours.delay_target_s.at(name);
    const double median = Percentile(k.delays_s, 0.5);
    std::cout << "| " << name << " | " << k.incidents << " | " << k.detected << " | " << Seconds(median) << " | "
              << Seconds(target_s) << " | " << (!k.delays_s.empty() && median <= target_s ? "met" : "not met")
              << " |\n";
  }
  if (!ours.missed.empty()) std::cout << "\nMissed: " << JoinStrings(ours.missed, ", ") << "\n";
  if (!ours.false_alert_ids.empty()) {
    std::cout << "\nFalse alerts: " << ours.false_alert_ids.size() << " (first: "
              << JoinStrings(std::vector<std::string>(ours.false_alert_ids.begin(),
                                                      ours.false_alert_ids.begin() +
                                                          std::min<size_t>(10, ours.false_alert_ids.size())),
                             ", ")
              << ")\n";
  }
  if (!opt.json_out.empty()) {
    nlohmann::json report = nlohmann::json::array();
    for (const auto& [name, s] : scores) report.push_back(ScoreJson(name, s));
    std::ofstream out(opt.json_out);
    out << report.dump(2) << "\n";
    if (!out) {
      std::cerr << "burnrate: cannot write " << opt.json_out << "\n";
      return kExitRuntimeFailure;
    }
  }
  return kExitOk;
}

}  // namespace

CommandRunner AddEvaluateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "evaluate",
      "Score alerts against the labels of a simulated run, beside a static threshold and an EWMA baseline");
  auto opt = std::make_shared<EvaluateOptions>();
  cmd->add_option("--labels", opt->labels, "Incident labels (JSON Lines, from burnrate simulate)")->required();
  cmd->add_option("--alerts", opt->alerts, "burnrate's alert transitions (JSON Lines, from replay --alerts-out)")
      ->required();
  cmd->add_option("--windows", opt->windows,
                  "Closed windows of the same run (JSON Lines; - for stdin): the baselines run on them");
  cmd->add_option("--meta", opt->meta, "The run's meta file (warm-up end and end), from burnrate simulate");
  cmd->add_option("--warmup-end", opt->warmup_end, "Score from this time (RFC 3339)");
  cmd->add_option("--end", opt->end, "Score until this time (RFC 3339)");
  cmd->add_option("--json-out", opt->json_out, "Also write the figures as JSON here");
  cmd->add_option("--static-factor", opt->static_factor, "Static baseline: multiple of the warm-up maximum")
      ->capture_default_str();
  cmd->add_option("--ewma-alpha", opt->ewma_alpha, "EWMA baseline: smoothing factor")->capture_default_str();
  cmd->add_option("--ewma-sigmas", opt->ewma_sigmas, "EWMA baseline: band width in standard deviations")
      ->capture_default_str();
  return [opt]() { return RunEvaluate(*opt); };
}

}  // namespace burnrate
