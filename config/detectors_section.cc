// The `detectors:` section (docs/detection.md).
#include <sstream>

#include "config/yaml_reader.h"
#include "detectors/detectors_config.h"

namespace burnrate {

absl::Status ParseDetectorsSection(const YamlReader& r, const YAML::Node& node, DetectorsConfig& c) {
  if (!node) return absl::OkStatus();
  BR_RETURN_IF_ERROR(r.OnlyKeys(node, "detectors",
                                {"enabled", "spike", "unit_cost_shift", "new_spender", "runaway", "unpriced",
                                 "history_ttl"}));
  if (node["enabled"]) {
    BR_RETURN_IF_ERROR(r.StringList(node["enabled"], "detectors.enabled", c.enabled));
    static const std::vector<std::string> known = {"spike", "unit_cost_shift", "new_spender", "runaway",
                                                   "unpriced"};
    for (size_t i = 0; i < c.enabled.size(); ++i) {
      bool ok = false;
      for (const auto& k : known) ok |= k == c.enabled[i];
      if (!ok) {
        return r.Error(node["enabled"][i], Concat("unknown detector '", c.enabled[i],
                                                  "' (known: ", JoinStrings(known, ", "), ")"));
      }
    }
  }
  const int64_t hour = 3'600'000, day = 24 * hour;
  if (const auto s = node["spike"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(s, "detectors.spike", {"windows", "min_excess_usd_per_hour", "min_calls", "min_z",
                                                         "hold_ratio", "resolve_after", "critical_ratio", "sustained",
                                                         "calls", "plateau"}));
    if (const auto cl = s["calls"]) {
      BR_RETURN_IF_ERROR(r.OnlyKeys(cl, "detectors.spike.calls", {"windows", "rate_factor", "max_p", "ratio",
                                                                     "min_excess_usd_per_hour"}));
      if (const auto w = cl["windows"]) {
        if (!w.IsSequence()) return r.Error(w, "detectors.spike.calls.windows must be a list of durations");
        c.spike.calls_windows_ms.clear();
        for (const auto& item : w) {
          int64_t ms = 0;
          BR_RETURN_IF_ERROR(r.Duration(item, "detectors.spike.calls.windows[]", 60'000, hour, ms));
          c.spike.calls_windows_ms.push_back(ms);
        }
      }
      BR_RETURN_IF_ERROR(r.Double(cl["rate_factor"], "detectors.spike.calls.rate_factor", 1.0, 1e6,
                                  c.spike.calls_rate_factor));
      BR_RETURN_IF_ERROR(r.Double(cl["max_p"], "detectors.spike.calls.max_p", 1e-300, 1, c.spike.calls_max_p));
      BR_RETURN_IF_ERROR(r.Double(cl["ratio"], "detectors.spike.calls.ratio", 1.0, 1e6, c.spike.calls_ratio));
      BR_RETURN_IF_ERROR(r.Double(cl["min_excess_usd_per_hour"], "detectors.spike.calls.min_excess_usd_per_hour", 0, 1e9,
                                  c.spike.calls_min_excess_usd_per_hour));
    }
    if (const auto pl = s["plateau"]) {
      BR_RETURN_IF_ERROR(r.OnlyKeys(pl, "detectors.spike.plateau", {"block", "blocks", "ratio", "block_ratio",
                                                                       "rate_factor", "max_p",
                                                                       "min_excess_usd_per_hour"}));
      BR_RETURN_IF_ERROR(r.Duration(pl["block"], "detectors.spike.plateau.block", 60'000, 20 * 60'000,
                                    c.spike.plateau_block_ms));
      BR_RETURN_IF_ERROR(r.IntAs(pl["blocks"], "detectors.spike.plateau.blocks", 1, 12, c.spike.plateau_blocks));
      BR_RETURN_IF_ERROR(r.Double(pl["ratio"], "detectors.spike.plateau.ratio", 1.0, 1e6, c.spike.plateau_ratio));
      BR_RETURN_IF_ERROR(r.Double(pl["block_ratio"], "detectors.spike.plateau.block_ratio", 1.0, 1e6,
                                  c.spike.plateau_block_ratio));
      BR_RETURN_IF_ERROR(r.Double(pl["rate_factor"], "detectors.spike.plateau.rate_factor", 1.0, 1e6,
                                  c.spike.plateau_rate_factor));
      BR_RETURN_IF_ERROR(r.Double(pl["max_p"], "detectors.spike.plateau.max_p", 1e-300, 1, c.spike.plateau_max_p));
      BR_RETURN_IF_ERROR(r.Double(pl["min_excess_usd_per_hour"], "detectors.spike.plateau.min_excess_usd_per_hour", 0,
                                  1e9, c.spike.plateau_min_excess_usd_per_hour));
      if (c.spike.plateau_block_ms / 60'000 * c.spike.plateau_blocks > 60) {
        return r.Error(pl, "detectors.spike.plateau spans more than 60 minutes (blocks x block)");
      }
    }
    if (const auto st = s["sustained"]) {
      BR_RETURN_IF_ERROR(r.OnlyKeys(st, "detectors.spike.sustained", {"block", "blocks", "ratio", "min_excess_usd_per_hour",
                                                                         "peak_factor"}));
      BR_RETURN_IF_ERROR(r.Double(st["peak_factor"], "detectors.spike.sustained.peak_factor", 0, 1e6,
                                  c.spike.sustained_peak_factor));
      BR_RETURN_IF_ERROR(r.Duration(st["block"], "detectors.spike.sustained.block", 60'000, 20 * 60'000,
                                    c.spike.sustained_block_ms));
      BR_RETURN_IF_ERROR(r.IntAs(st["blocks"], "detectors.spike.sustained.blocks", 1, 12, c.spike.sustained_blocks));
      BR_RETURN_IF_ERROR(r.Double(st["ratio"], "detectors.spike.sustained.ratio", 1.0, 1e6, c.spike.sustained_ratio));
      BR_RETURN_IF_ERROR(r.Double(st["min_excess_usd_per_hour"], "detectors.spike.sustained.min_excess_usd_per_hour", 0,
                                  1e9, c.spike.sustained_min_excess_usd_per_hour));
      if (c.spike.sustained_block_ms / 60'000 * c.spike.sustained_blocks > 60) {
        return r.Error(st, "detectors.spike.sustained spans more than 60 minutes (blocks x block)");
      }
    }
    if (const auto w = s["windows"]) {
      if (!w.IsSequence() || w.size() == 0) return r.Error(w, "detectors.spike.windows must be a non-empty list");
      c.spike.pairs.clear();
      for (const auto& item : w) {
        BR_RETURN_IF_ERROR(r.OnlyKeys(item, "detectors.spike.windows[]", {"short", "long", "short_ratio", "long_ratio"}));
        SpikeWindowPair p;
        for (const char* required : {"short", "long", "short_ratio", "long_ratio"}) {
          if (!item[required]) return r.Error(item, Concat("detectors.spike.windows[] needs ", required));
        }
        BR_RETURN_IF_ERROR(r.Duration(item["short"], "short", 60'000, hour, p.short_ms));
        BR_RETURN_IF_ERROR(r.Duration(item["long"], "long", 60'000, hour, p.long_ms));
        BR_RETURN_IF_ERROR(r.Double(item["short_ratio"], "short_ratio", 1.0, 1e6, p.short_ratio));
        BR_RETURN_IF_ERROR(r.Double(item["long_ratio"], "long_ratio", 1.0, 1e6, p.long_ratio));
        if (p.short_ms > p.long_ms) return r.Error(item, "the short window must not be longer than the long one");
        c.spike.pairs.push_back(p);
      }
    }
    BR_RETURN_IF_ERROR(r.Double(s["min_excess_usd_per_hour"], "detectors.spike.min_excess_usd_per_hour", 0, 1e9,
                                c.spike.min_excess_usd_per_hour));
    BR_RETURN_IF_ERROR(r.Int(s["min_calls"], "detectors.spike.min_calls", 0, 1'000'000, c.spike.min_calls));
    BR_RETURN_IF_ERROR(r.Double(s["min_z"], "detectors.spike.min_z", 0, 1000, c.spike.min_z));
    BR_RETURN_IF_ERROR(r.Double(s["hold_ratio"], "detectors.spike.hold_ratio", 1.0, 1e6, c.spike.hold_ratio));
    BR_RETURN_IF_ERROR(r.Duration(s["resolve_after"], "detectors.spike.resolve_after", 60'000, day,
                                  c.spike.resolve_after_ms));
    BR_RETURN_IF_ERROR(r.Double(s["critical_ratio"], "detectors.spike.critical_ratio", 1.0, 1e6, c.spike.critical_ratio));
  }
  if (const auto u = node["unit_cost_shift"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(u, "detectors.unit_cost_shift", {"min_ratio", "hold_ratio", "max_call_rate_change",
                                                                   "min_calls", "min_excess_usd_per_hour",
                                                                   "resolve_after"}));
    auto& x = c.unit_cost_shift;
    BR_RETURN_IF_ERROR(r.Double(u["min_ratio"], "detectors.unit_cost_shift.min_ratio", 1.0, 1e6, x.min_ratio));
    BR_RETURN_IF_ERROR(r.Double(u["hold_ratio"], "detectors.unit_cost_shift.hold_ratio", 1.0, 1e6, x.hold_ratio));
    BR_RETURN_IF_ERROR(r.Double(u["max_call_rate_change"], "detectors.unit_cost_shift.max_call_rate_change", 1.0, 1e6,
                                x.max_call_rate_change));
    BR_RETURN_IF_ERROR(r.Int(u["min_calls"], "detectors.unit_cost_shift.min_calls", 1, 1'000'000, x.min_calls));
    BR_RETURN_IF_ERROR(r.Double(u["min_excess_usd_per_hour"], "detectors.unit_cost_shift.min_excess_usd_per_hour", 0,
                                1e9, x.min_excess_usd_per_hour));
    BR_RETURN_IF_ERROR(r.Duration(u["resolve_after"], "detectors.unit_cost_shift.resolve_after", 60'000, day,
                                  x.resolve_after_ms));
  }
  if (const auto n = node["new_spender"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(n, "detectors.new_spender", {"new_for", "learning_period", "min_usd_per_hour",
                                                               "min_calls", "resolve_after"}));
    auto& x = c.new_spender;
    BR_RETURN_IF_ERROR(r.Duration(n["new_for"], "detectors.new_spender.new_for", hour, 30 * day, x.new_for_ms));
    BR_RETURN_IF_ERROR(r.Duration(n["learning_period"], "detectors.new_spender.learning_period", 0, 30 * day,
                                  x.learning_period_ms));
    BR_RETURN_IF_ERROR(r.Double(n["min_usd_per_hour"], "detectors.new_spender.min_usd_per_hour", 0, 1e9,
                                x.min_usd_per_hour));
    BR_RETURN_IF_ERROR(r.Int(n["min_calls"], "detectors.new_spender.min_calls", 1, 1'000'000, x.min_calls));
    BR_RETURN_IF_ERROR(r.Duration(n["resolve_after"], "detectors.new_spender.resolve_after", 60'000, day,
                                  x.resolve_after_ms));
  }
  if (const auto n = node["runaway"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(n, "detectors.runaway", {"max_calls", "max_tokens", "max_cost_usd", "idle_after",
                                                           "max_tracked_runs"}));
    auto& x = c.runaway;
    BR_RETURN_IF_ERROR(r.Int(n["max_calls"], "detectors.runaway.max_calls", 1, 1'000'000'000, x.max_calls));
    BR_RETURN_IF_ERROR(r.Int(n["max_tokens"], "detectors.runaway.max_tokens", 1, 1'000'000'000'000, x.max_tokens));
    BR_RETURN_IF_ERROR(r.Double(n["max_cost_usd"], "detectors.runaway.max_cost_usd", 0, 1e9, x.max_cost_usd));
    BR_RETURN_IF_ERROR(r.Duration(n["idle_after"], "detectors.runaway.idle_after", 60'000, day, x.idle_after_ms));
    BR_RETURN_IF_ERROR(r.Int(n["max_tracked_runs"], "detectors.runaway.max_tracked_runs", 1000, 100'000'000,
                             x.max_tracked_runs));
  }
  if (const auto n = node["unpriced"]) {
    BR_RETURN_IF_ERROR(r.OnlyKeys(n, "detectors.unpriced", {"min_events", "resolve_after"}));
    BR_RETURN_IF_ERROR(r.Int(n["min_events"], "detectors.unpriced.min_events", 1, 1'000'000'000, c.unpriced.min_events));
    BR_RETURN_IF_ERROR(r.Duration(n["resolve_after"], "detectors.unpriced.resolve_after", 60'000, day,
                                  c.unpriced.resolve_after_ms));
  }
  BR_RETURN_IF_ERROR(r.Duration(node["history_ttl"], "detectors.history_ttl", 8 * day, 90 * day, c.history_ttl_ms));
  return absl::OkStatus();
}

namespace {

std::string JoinDurations(const std::vector<int64_t>& ms) {
  std::vector<std::string> parts;
  parts.reserve(ms.size());
  for (int64_t v : ms) parts.push_back(FormatDurationMs(v));
  return JoinStrings(parts, ", ");
}

}  // namespace

std::string ExplainDetectorsConfig(const DetectorsConfig& c) {
  std::ostringstream o;
  o << "detectors: " << (c.enabled.empty() ? "none" : JoinStrings(c.enabled, ", ")) << "\n";
  for (const auto& p : c.spike.pairs) {
    o << "  spike: " << FormatDurationMs(p.short_ms) << " above " << p.short_ratio << "x confirmed by "
      << FormatDurationMs(p.long_ms) << " above " << p.long_ratio << "x,";
    o << " extra spend at least $" << c.spike.min_excess_usd_per_hour << "/hour, z >= " << c.spike.min_z
      << ", at least " << c.spike.min_calls << " calls in the short window\n";
  }
  o << "  spike: calls over " << JoinDurations(c.spike.calls_windows_ms) << " beyond chance (p < " << c.spike.calls_max_p
    << ") at " << c.spike.calls_rate_factor << "x the expected rate, spend above " << c.spike.calls_ratio
    << "x and $" << c.spike.calls_min_excess_usd_per_hour << "/hour extra\n";
  o << "  spike: plateau " << c.spike.plateau_blocks << " x " << FormatDurationMs(c.spike.plateau_block_ms) << " above "
    << c.spike.plateau_block_ratio << "x, " << c.spike.plateau_ratio << "x in all, calls beyond chance (p < "
    << c.spike.plateau_max_p << ") at " << c.spike.plateau_rate_factor << "x the expected rate, extra spend at least $"
    << c.spike.plateau_min_excess_usd_per_hour << "/hour\n";
  o << "  spike: sustained " << c.spike.sustained_blocks << " x " << FormatDurationMs(c.spike.sustained_block_ms)
    << " above " << c.spike.sustained_ratio << "x, extra spend at least $" << c.spike.sustained_min_excess_usd_per_hour
    << "/hour and " << c.spike.sustained_peak_factor << "x the largest of the past 6 days\n";
  o << "  unit_cost_shift: cost per call " << c.unit_cost_shift.min_ratio << "x its usual with calls within "
    << c.unit_cost_shift.max_call_rate_change << "x, at least " << c.unit_cost_shift.min_calls << " calls\n"
    << "  new_spender: new for " << FormatDurationMs(c.new_spender.new_for_ms) << " after first seen, above $"
    << c.new_spender.min_usd_per_hour << "/hour, after a learning period of "
    << FormatDurationMs(c.new_spender.learning_period_ms) << "\n"
    << "  runaway: a run beyond " << c.runaway.max_calls << " calls, " << c.runaway.max_tokens << " tokens or $"
    << c.runaway.max_cost_usd << "\n"
    << "  baselines: 7 days by hour of week, kept " << FormatDurationMs(c.history_ttl_ms) << " after a key's last activity\n";
  return o.str();
}

}  // namespace burnrate
