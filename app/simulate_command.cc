// `burnrate simulate`: realistic synthetic LLM cost traffic with labelled
// incidents, to a file, stdout or Kafka, at full speed or in real time (the
// live demo). The model lives in simulate/ (docs/simulate.md).
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "app/commands.h"
#include "config/config.h"
#include "consumers/kafka_producer.h"
#include "core/concat.h"
#include "core/time_format.h"
#include "simulate/traffic_model.h"

namespace burnrate {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

struct SimulateOptions {
  int days = 28;
  int warmup_days = 7;
  uint64_t seed = 1;
  std::string start = "2026-03-02T00:00:00Z";
  int tenants = 150;
  double incidents_per_day = 2.5;
  double min_incident_usd_per_hour = 1.0;
  double scale = 1.0;
  double malformed_fraction = 0.0;
  std::string out = "-";
  std::string kafka_brokers;
  std::string kafka_topic = "llm-cost-events";
  std::string labels_out;
  std::string meta_out;
  bool realtime = false;
  std::vector<std::string> incidents;
  bool no_random_incidents = false;
  bool out_given = false;
};

// "+90s", "+5m", "+2h", "+1d" (to `now_ms`) or an RFC 3339 time.
std::optional<int64_t> ParseWhen(const std::string& text, int64_t now_ms) {
  if (!text.empty() && text[0] == '+') {
    if (text.size() < 3) return std::nullopt;
    const char unit = text.back();
    const int64_t per = unit == 's' ? 1000 : unit == 'm' ? 60'000 : unit == 'h' ? 3'600'000 : unit == 'd' ? 86'400'000 : 0;
    if (per == 0) return std::nullopt;
    int64_t n = 0;
    for (size_t i = 1; i + 1 < text.size(); ++i) {
      if (text[i] < '0' || text[i] > '9' || n > 1'000'000'000) return std::nullopt;
      n = n * 10 + (text[i] - '0');
    }
    return now_ms + n * per;
  }
  return ParseRfc3339Ms(text);
}

// RFC 3339, "now", or "now-7d" (also s, m, h), rounded down to the minute.
std::optional<int64_t> ParseStart(const std::string& text, int64_t now_ms) {
  if (text == "now") return now_ms / 60'000 * 60'000;
  if (text.rfind("now-", 0) == 0) {
    const std::optional<int64_t> ahead = ParseWhen("+" + text.substr(4), 0);
    if (!ahead) return std::nullopt;
    return (now_ms - *ahead) / 60'000 * 60'000;
  }
  return ParseRfc3339Ms(text);
}

int BadUsage(const std::string& message) {
  std::cerr << "burnrate simulate: " << message << "\n";
  return kExitBadUsage;
}

bool WriteAll(FILE* file, std::string_view text) {
  return std::fwrite(text.data(), 1, text.size(), file) == text.size();
}

int RunSimulate(const SimulateOptions& opt) {
  const int64_t wall_start = WallClockMs();
  simulate::TrafficOptions t;
  t.days = opt.days;
  t.warmup_days = opt.warmup_days;
  t.seed = opt.seed;
  t.tenants = opt.tenants;
  t.incidents_per_day = opt.incidents_per_day;
  t.min_incident_usd_per_hour = opt.min_incident_usd_per_hour;
  t.scale = opt.scale;
  t.malformed_fraction = opt.malformed_fraction;
  t.random_incidents = !opt.no_random_incidents;
  const std::optional<int64_t> start = ParseStart(opt.start, wall_start);
  if (!start) return BadUsage(Concat("--start: '", opt.start, "' is not RFC 3339, now or now-<N>[smhd]"));
  t.start_ms = *start;
  for (const std::string& spec : opt.incidents) {
    const size_t at = spec.find('@');
    if (at == std::string::npos) return BadUsage(Concat("--incident: '", spec, "' is not KIND@WHEN"));
    const std::optional<simulate::IncidentKind> kind = simulate::ParseIncidentKind(spec.substr(0, at));
    if (!kind) {
      std::string names;
      for (simulate::IncidentKind k : simulate::kAllIncidentKinds) {
        names += Concat(names.empty() ? "" : ", ", simulate::IncidentKindName(k));
      }
      return BadUsage(Concat("--incident: unknown kind '", spec.substr(0, at), "' (one of ", names, ")"));
    }
    const std::optional<int64_t> when = ParseWhen(spec.substr(at + 1), wall_start);
    if (!when) {
      return BadUsage(Concat("--incident: '", spec.substr(at + 1), "' is neither +<N>[smhd] nor RFC 3339"));
    }
    t.scheduled.push_back({*kind, *when});
  }
  auto model_or = simulate::TrafficModel::Create(t);
  if (!model_or.ok()) return BadUsage(std::string(model_or.status().message()));
  simulate::TrafficModel& model = **model_or;

  if (!opt.labels_out.empty()) {
    FILE* f = std::fopen(opt.labels_out.c_str(), "wb");
    bool ok = f != nullptr;
    for (const simulate::IncidentLabel& l : model.incidents()) {
      ok = ok && WriteAll(f, simulate::IncidentLabelJson(l)) && WriteAll(f, "\n");
    }
    if (f != nullptr) ok = std::fclose(f) == 0 && ok;
    if (!ok) {
      std::cerr << "burnrate simulate: cannot write " << opt.labels_out << "\n";
      return kExitRuntimeFailure;
    }
  }
  if (!opt.meta_out.empty()) {
    FILE* f = std::fopen(opt.meta_out.c_str(), "wb");
    bool ok = f != nullptr && WriteAll(f, model.MetaJson()) && WriteAll(f, "\n");
    if (f != nullptr) ok = std::fclose(f) == 0 && ok;
    if (!ok) {
      std::cerr << "burnrate simulate: cannot write " << opt.meta_out << "\n";
      return kExitRuntimeFailure;
    }
  }

  // With Kafka and no --out, events go only to Kafka.
  const bool to_file = opt.kafka_brokers.empty() || opt.out_given;
  FILE* out = nullptr;
  bool owns_out = false;
  if (to_file) {
    if (opt.out == "-") {
      out = stdout;
    } else {
      out = std::fopen(opt.out.c_str(), "wb");
      owns_out = true;
      if (out == nullptr) {
        std::cerr << "burnrate simulate: cannot write " << opt.out << "\n";
        return kExitRuntimeFailure;
      }
    }
    std::setvbuf(out, nullptr, _IOFBF, 1 << 20);
  }
  std::unique_ptr<KafkaProducer> producer;
  if (!opt.kafka_brokers.empty()) {
    KafkaConfig kafka;
    kafka.brokers = opt.kafka_brokers;
    kafka.topic = opt.kafka_topic;
    auto p = KafkaProducer::Create(kafka);
    if (!p.ok()) {
      std::cerr << "burnrate simulate: " << p.status().message() << "\n";
      if (owns_out) std::fclose(out);
      return kExitRuntimeFailure;
    }
    producer = std::move(*p);
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  bool failed = false;
  uint64_t emitted = 0;  // lines written or queued, not just generated
  simulate::MinuteBatch batch;
  while (!g_stop.load() && !failed && model.NextMinute(batch)) {
    const bool wait = opt.realtime && batch.minute_start_ms + 60'000 > WallClockMs();
    if (!wait) {
      // All of the minute is in the past: as fast as possible.
      if (out != nullptr) failed |= !WriteAll(out, batch.text);
      if (producer) {
        for (size_t i = 0; i < batch.lines.size(); ++i) {
          producer->Produce(opt.kafka_topic, model.tenant_name(batch.lines[i].tenant), batch.line(i));
        }
      }
      emitted += batch.lines.size();
      continue;
    }
    for (size_t i = 0; i < batch.lines.size() && !g_stop.load() && !failed; ++i) {
      const int64_t due = batch.lines[i].ts_ms;
      if (due > WallClockMs()) {
        if (out != nullptr) failed |= std::fflush(out) != 0;
        while (!g_stop.load()) {
          const int64_t left = due - WallClockMs();
          if (left <= 0) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(left, 200)));
        }
        if (g_stop.load()) break;
      }
      const std::string_view line = batch.line(i);
      if (out != nullptr) failed |= !WriteAll(out, line) || !WriteAll(out, "\n");
      if (producer) producer->Produce(opt.kafka_topic, model.tenant_name(batch.lines[i].tenant), line);
      ++emitted;
    }
  }
  if (out != nullptr) {
    failed |= std::fflush(out) != 0;
    if (owns_out) failed |= std::fclose(out) != 0;
  }
  if (producer) {
    if (absl::Status s = producer->Flush(60'000); !s.ok()) {
      std::cerr << "burnrate simulate: kafka: " << s.message() << "\n";
      failed = true;
    }
  }
  if (failed) {
    std::cerr << "burnrate simulate: writing events failed\n";
    return kExitRuntimeFailure;
  }
  const simulate::TrafficStats& s = model.stats();
  const double seconds = static_cast<double>(WallClockMs() - wall_start) / 1000.0;
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.3f,\"events_per_second\":%.0f", seconds,
                seconds > 0 ? static_cast<double>(emitted) / seconds : 0.0);
  // malformed and incident_events count what was generated, which is what
  // was written unless a stop cut the last minute short.
  std::cerr << "{\"summary\":{\"events\":" << emitted << ",\"malformed\":" << s.malformed
            << ",\"incident_events\":" << s.incident_events << ",\"incidents\":" << model.incidents().size()
            << ",\"keys\":" << model.key_count() << ",\"stopped_early\":" << (g_stop.load() ? "true" : "false")
            << ",\"seconds\":" << rate << "}}\n";
  return kExitOk;
}

}  // namespace

CommandRunner AddSimulateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "simulate",
      "Generate realistic synthetic LLM cost traffic (tenants, features, environments with daily and weekly "
      "seasonality, growth and noise) with labelled incidents, for proving detectors and for demos "
      "(docs/simulate.md)");
  auto opt = std::make_shared<SimulateOptions>();
  cmd->add_option("--days", opt->days, "Simulated days, warm-up included")->capture_default_str();
  cmd->add_option("--warmup-days", opt->warmup_days, "First days without random incidents")->capture_default_str();
  cmd->add_option("--seed", opt->seed, "Random seed: the same seed and options give the same bytes")
      ->capture_default_str();
  cmd->add_option("--start", opt->start, "Start of simulated time: RFC 3339, now, or now-<N>[smhd] (e.g. now-7d)")
      ->capture_default_str();
  cmd->add_option("--tenants", opt->tenants, "Number of tenants (2-6 features each; prod, some staging and dev)")
      ->capture_default_str();
  cmd->add_option("--incidents-per-day", opt->incidents_per_day,
                  "Random incidents per day after the warm-up (kinds in rotation)")
      ->capture_default_str();
  cmd->add_option("--min-incident-usd-per-hour", opt->min_incident_usd_per_hour,
                  "Random rate and price incidents add at least this much spend per hour (0: any size)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--scale", opt->scale, "Multiplies every call rate")->capture_default_str();
  cmd->add_option("--malformed-fraction", opt->malformed_fraction,
                  "Share of lines deliberately broken, for robustness runs")
      ->capture_default_str();
  cmd->add_option("--out", opt->out,
                  "Events as JSON Lines; - for stdout (default, unless --kafka-brokers is given)")
      ->each([opt](const std::string&) { opt->out_given = true; });
  cmd->add_option("--kafka-brokers", opt->kafka_brokers, "Also (or only, without --out) publish to Kafka, keyed by tenant");
  cmd->add_option("--kafka-topic", opt->kafka_topic, "Kafka topic for the events")->capture_default_str();
  cmd->add_option("--labels-out", opt->labels_out, "Incident labels, one JSON object per line");
  cmd->add_option("--meta-out", opt->meta_out,
                  "The run's parameters (seed, start, end, warmup_end, keys, benign changes) as one JSON line");
  cmd->add_flag("--realtime", opt->realtime,
                "Emit past events at once and future ones when the wall clock reaches their time (live demo)");
  cmd->add_option("--incident", opt->incidents,
                  "Schedule an incident: KIND@+<N>[smhd] (from now) or KIND@<RFC 3339>; repeatable. Kinds: "
                  "retry_loop, runaway_agent, tenant_scripting, premium_routing, new_feature, "
                  "debug_script_weekend, staging_leak, unpriced_model");
  cmd->add_flag("--no-random-incidents", opt->no_random_incidents, "Only the --incident ones");
  return [opt]() { return RunSimulate(*opt); };
}

}  // namespace burnrate
