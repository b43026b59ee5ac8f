// Settings of the detectors (the `detectors:` section of the config file,
// docs/detection.md). Header-only plain structs: config/ parses them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace burnrate {

// A short window confirmed by a long one (the multi-window idea of the
// Google SRE workbook): both must exceed their ratio.
struct SpikeWindowPair {
  int64_t short_ms = 0;
  int64_t long_ms = 0;
  double short_ratio = 0;
  double long_ratio = 0;
};

struct SpikeConfig {
  std::vector<SpikeWindowPair> pairs = {
      {3 * 60'000, 15 * 60'000, 4.0, 2.0},    // fast: a 10x jump pages in about two minutes
      // Slower: a plateau that holds for half an hour or more. Ordinary
      // busy hours reach 2-2.5x (a busy day times a busy hour), so less
      // than this pages on them.
      {15 * 60'000, 60 * 60'000, 2.7, 2.0},
  };
  // Extra spend above expectation, as a rate, that the window pairs need:
  // they page fast, so they are for rises that cost real money.
  double min_excess_usd_per_hour = 2.0;
  // Calls a pair's short window must hold: a rise made of one or two calls
  // is one expensive call (runaway and unit_cost_shift judge those), and on
  // a quiet key it would page for every agent run.
  int64_t min_calls = 3;
  // A smaller rise must be sustained to alert: every block of the last
  // `sustained_blocks` x `sustained_block` minutes above `sustained_ratio`,
  // and extra spend of at least `sustained_min_excess_usd_per_hour`. A
  // burst (one agent run, one batch) fills a block or two, not all of them.
  int64_t sustained_block_ms = 4 * 60'000;
  int sustained_blocks = 3;
  double sustained_ratio = 2.5;
  double sustained_min_excess_usd_per_hour = 0.5;
  // ... and the rise must exceed this multiple of the largest the key showed
  // on any of the previous 6 days (bursty keys burst every day).
  double sustained_peak_factor = 3.0;
  // Calls path: a rise in the number of calls that chance cannot explain,
  // judged on the short windows `calls_windows` alone, so a leak on a quiet
  // key or a retry loop pages in a window or two. The count over a window
  // must be improbable (below `calls_max_p`) even for a key calling at
  // `calls_rate_factor` x its expected rate: what a busy hour on a busy day
  // reaches, so ordinary swings of the rate do not page, while on a quiet
  // key a handful of calls is enough. Spend must rise too: `calls_ratio` x
  // its expectation and `calls_min_excess_usd_per_hour` of extra spend.
  std::vector<int64_t> calls_windows_ms = {60'000, 2 * 60'000, 3 * 60'000, 5 * 60'000};
  double calls_rate_factor = 3.0;
  double calls_max_p = 1e-6;
  double calls_ratio = 3.0;
  double calls_min_excess_usd_per_hour = 1.0;
  // Plateau path: a rise that holds for `plateau_blocks` x `plateau_block`
  // minutes (a tenant's script, a 3-5x plateau) without waiting for the
  // hour-long window of the slow pair: the whole span above
  // `plateau_ratio`, every block above `plateau_block_ratio` (a burst fills
  // one block, not all), the span's calls improbable (below
  // `plateau_max_p`) even at `plateau_rate_factor` x the expected rate, the
  // span a robust outlier (`min_z`) and `plateau_min_excess_usd_per_hour` of
  // extra spend. Calls must rise, not only spend: a few expensive calls
  // lift a quiet quarter-hour's spend 3x often enough.
  int64_t plateau_block_ms = 5 * 60'000;
  int plateau_blocks = 3;
  double plateau_ratio = 2.5;
  double plateau_block_ratio = 1.5;
  double plateau_rate_factor = 2.0;
  double plateau_max_p = 1e-6;
  double plateau_min_excess_usd_per_hour = 0.5;
  // Robust z-score of the long window against the key's noise.
  double min_z = 6.0;
  // Hysteresis: a firing spike holds while the 15-minute ratio stays above this.
  double hold_ratio = 1.4;
  int64_t resolve_after_ms = 15 * 60'000;
  // Ratio at or above which (with 10x the dollar floor) the alert is critical.
  double critical_ratio = 10.0;
};

struct UnitCostShiftConfig {
  double min_ratio = 2.5;   // cost per call against the key's usual
  double hold_ratio = 1.8;
  // Calls must stay within this factor of the expected rate: a shift in
  // cost per call, not in traffic (that is a spike).
  double max_call_rate_change = 2.5;
  int64_t min_calls = 20;   // in the judged window; fewer calls say nothing
  double min_excess_usd_per_hour = 1.0;
  int64_t resolve_after_ms = 30 * 60'000;
};

struct NewSpenderConfig {
  // How long a key (or tenant) counts as new after it is first seen.
  int64_t new_for_ms = 7 * 86'400'000LL;
  // Nothing is new before the detectors have watched traffic this long.
  int64_t learning_period_ms = 86'400'000LL;
  double min_usd_per_hour = 0.5;  // judged over the last 15 minutes
  int64_t min_calls = 3;
  int64_t resolve_after_ms = 60 * 60'000;
};

struct RunawayConfig {
  // One agent_run_id or correlation_id beyond any of these is a runaway.
  int64_t max_calls = 200;
  int64_t max_tokens = 5'000'000;
  double max_cost_usd = 25.0;
  // A run with no call for this long (event time) is over: resolved.
  int64_t idle_after_ms = 10 * 60'000;
  // Most runs tracked at once per pipeline; the oldest idle ones go first.
  int64_t max_tracked_runs = 1'000'000;
};

struct UnpricedConfig {
  int64_t min_events = 1;  // unpriced events in one window
  int64_t resolve_after_ms = 30 * 60'000;
};

struct DetectorsConfig {
  // Detectors by name, in order: spike, unit_cost_shift, new_spender,
  // runaway, unpriced. Empty means none.
  std::vector<std::string> enabled = {"spike", "unit_cost_shift", "new_spender", "runaway", "unpriced"};
  SpikeConfig spike;
  UnitCostShiftConfig unit_cost_shift;
  NewSpenderConfig new_spender;
  RunawayConfig runaway;
  UnpricedConfig unpriced;
  // Baselines in Redis expire this long after a key's last activity.
  int64_t history_ttl_ms = 8 * 86'400'000LL;
};

}  // namespace burnrate
