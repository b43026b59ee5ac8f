// `burnrate simulate`'s traffic model: a seeded synthetic population of LLM
// cost traffic (tenants, features, environments) with daily and weekly
// seasonality, growth, noise and benign changes, plus labelled incidents.
// It produces flat-schema cost events (docs/events.md) minute by minute in
// event-time order, with bounded memory (one minute at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "simulate/incident.h"

namespace burnrate::simulate {

// An incident asked for by the user (the live demo), in addition to or
// instead of the random ones.
struct IncidentRequest {
  IncidentKind kind = IncidentKind::kRetryLoop;
  int64_t start_ms = 0;
};

struct TrafficOptions {
  uint64_t seed = 1;
  int64_t start_ms = 1'772'409'600'000;  // 2026-03-02T00:00:00Z, a Monday
  int days = 28;                         // simulated days, warm-up included
  int warmup_days = 7;                   // no random incident starts before this
  int tenants = 150;
  double incidents_per_day = 2.5;  // random incidents per day after warm-up
  // Random rate and price incidents add at least this much spend per hour
  // when they start (at the key's expected rate): the size the detectors'
  // default dollar floors are built to page for. 0 allows any size.
  double min_incident_usd_per_hour = 1.0;
  bool random_incidents = true;
  std::vector<IncidentRequest> scheduled;
  double scale = 1.0;               // multiplies every call rate
  double malformed_fraction = 0.0;  // lines deliberately broken, for robustness runs
};

// One minute of events: JSON lines (each ending in '\n') in `text`, sorted
// by event time, and where each line is.
struct MinuteBatch {
  struct Line {
    int64_t ts_ms;
    uint32_t begin;   // offset into text
    uint32_t length;  // without the newline
    uint32_t tenant;  // index for TrafficModel::tenant_name (Kafka key)
  };
  int64_t minute_start_ms = 0;
  std::string text;
  std::vector<Line> lines;
  std::string_view line(size_t i) const { return std::string_view(text).substr(lines[i].begin, lines[i].length); }
};

struct TrafficStats {
  uint64_t events = 0;     // lines written, malformed included
  uint64_t malformed = 0;
  uint64_t incident_events = 0;  // calls caused by an incident
};

// Owned by its caller; not thread-safe. The same options give the same
// population, incidents and byte-identical events.
class TrafficModel {
 public:
  // Fails on options out of range (days < 1, warm-up >= days, tenants < 1,
  // scale <= 0, a scheduled incident outside the simulated time).
  static absl::StatusOr<std::unique_ptr<TrafficModel>> Create(const TrafficOptions& options);
  ~TrafficModel();
  TrafficModel(const TrafficModel&) = delete;
  TrafficModel& operator=(const TrafficModel&) = delete;

  // Fills `batch` with the next minute's events. False once the simulated
  // time is over (batch then left empty).
  bool NextMinute(MinuteBatch& batch);
  bool done() const;

  // All incidents, known from the start, sorted by start time.
  const std::vector<IncidentLabel>& incidents() const;
  // The run's parameters as one JSON object: seed, start, end, warmup_end,
  // keys, tenants, incidents and the benign (unlabelled) changes.
  std::string MetaJson() const;
  // (tenant, feature, environment) keys of the normal population.
  size_t key_count() const;
  const std::string& tenant_name(uint32_t index) const;
  const TrafficOptions& options() const;
  int64_t end_ms() const;
  int64_t warmup_end_ms() const;
  const TrafficStats& stats() const;

 private:
  struct Impl;
  explicit TrafficModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace burnrate::simulate
