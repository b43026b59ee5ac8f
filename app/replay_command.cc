// `burnrate replay`: the embedded mode. The same pipeline as `run`, over a
// file or stdin, with in-memory state; event time drives everything and all
// windows are flushed at the end.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "app/commands.h"
#include "app/line_reader.h"
#include "app/startup.h"
#include "config/config.h"
#include "core/json_output.h"
#include "core/alert.h"
#include "core/pipeline.h"
#include "core/time_format.h"
#include "detectors/detector_engine.h"
#include "detectors/runaway/runaway_detector.h"

namespace burnrate {
namespace {

// Buffered JSON Lines output to a file, stdout ("-") or stderr (kStderr).
class JsonlWriter {
 public:
  static constexpr const char* kStderr = "(stderr)";
  explicit JsonlWriter(const std::string& path) {
    if (path == "-") {
      file_ = stdout;
    } else if (path == kStderr) {
      file_ = stderr;
    } else {
      file_ = std::fopen(path.c_str(), "wb");
      owns_ = true;
    }
    buffer_.reserve(1 << 20);
  }
  ~JsonlWriter() {
    Flush();
    if (owns_ && file_) std::fclose(file_);
  }
  bool ok() const { return file_ != nullptr && !failed_; }
  std::string& buffer() { return buffer_; }
  void EndLine() {
    buffer_.push_back('\n');
    ++lines_;
    if (buffer_.size() >= (1 << 20) - 4096) Flush();
  }
  void Flush() {
    if (file_ && !buffer_.empty()) {
      failed_ |= std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size();
      failed_ |= std::fflush(file_) != 0;
    }
    buffer_.clear();
  }
  uint64_t lines() const { return lines_; }

 private:
  FILE* file_ = nullptr;
  bool owns_ = false;
  bool failed_ = false;
  std::string buffer_;
  uint64_t lines_ = 0;
};

class FileDeadLetterSink : public DeadLetterSink {
 public:
  explicit FileDeadLetterSink(JsonlWriter& out) : out_(out) {}
  void DeadLetter(std::string_view message, const Rejection& rejection) override {
    AppendDeadLetterJson(message, rejection, out_.buffer());
    out_.EndLine();
  }

 private:
  JsonlWriter& out_;
};

struct ReplayOptions {
  std::string config_path;
  std::string input;
  std::string windows_out = "-";
  std::string dead_letters_out;
  std::string alerts_out;
  bool rollups = false;
};

// Replay's detectors: every closed window goes through the detector engine
// (in-memory baselines) and every counted event through the runaway
// detector; alert transitions go to a JSON Lines file in event-time order.
class ReplayDetection {
 public:
  ReplayDetection(const Config& config, std::vector<KeyDetectorPtr> detectors, JsonlWriter& out)
      : engine_(config.detectors, std::move(detectors), store_),
        runaway_(config.detectors.runaway, config.pipeline.windows.size_ms),
        runaway_enabled_(std::find(config.detectors.enabled.begin(), config.detectors.enabled.end(), "runaway") !=
                         config.detectors.enabled.end()),
        out_(out) {}

  EventObserver* observer() { return runaway_enabled_ ? &runaway_ : nullptr; }

  void Observe(const WindowRecord& record) {
    if (open_ && record.start != current_) EndWindow();
    open_ = true;
    current_ = record.start;
    size_ms_ = record.size_ms;
    engine_.Observe(record);
  }
  // After a batch of windows closed: judge the last one.
  void EndWindow() {
    if (!open_) return;
    open_ = false;
    auto alerts = engine_.EndWindow(current_, size_ms_);
    // The in-memory store cannot fail.
    if (alerts.ok()) Write(*alerts);
    if (runaway_enabled_) Write(runaway_.TakeAlerts(current_.value() + size_ms_));
  }
  void Finish(int64_t end_ms) {
    EndWindow();
    if (runaway_enabled_) Write(runaway_.TakeAlerts(end_ms));
  }
  uint64_t alerts() const { return alerts_; }

 private:
  void Write(const std::vector<Alert>& alerts) {
    for (const auto& a : alerts) {
      out_.buffer() += AlertToJson(a);
      out_.EndLine();
      ++alerts_;
    }
  }

  NoHistoryStore store_;
  DetectorEngine engine_;
  RunawayDetector runaway_;
  bool runaway_enabled_;
  JsonlWriter& out_;
  bool open_ = false;
  WindowStartMs current_{0};
  int64_t size_ms_ = 0;
  uint64_t alerts_ = 0;
};

int RunReplay(const ReplayOptions& opt) {
  const std::optional<Startup> startup = LoadStartup(opt.config_path);
  if (!startup) return kExitBadUsage;
  const Config& config = startup->config;
  const PriceTable* prices = startup->prices;

  LineReader reader(opt.input);
  if (!reader.ok()) {
    std::cerr << "burnrate: cannot read input " << reader.error() << "\n";
    return kExitRuntimeFailure;
  }
  JsonlWriter windows_out(opt.windows_out);
  if (!windows_out.ok()) {
    std::cerr << "burnrate: cannot write " << opt.windows_out << "\n";
    return kExitRuntimeFailure;
  }
  // Without a file, dead letters go to stderr: never dropped, never mixed with the windows.
  JsonlWriter dead_out(opt.dead_letters_out.empty() ? JsonlWriter::kStderr : opt.dead_letters_out);
  if (!dead_out.ok()) {
    std::cerr << "burnrate: cannot write " << opt.dead_letters_out << "\n";
    return kExitRuntimeFailure;
  }
  FileDeadLetterSink dead_letters(dead_out);

  PipelineOptions pipeline_options = config.pipeline;
  // Event time drives replay, but nothing real happens in the future.
  pipeline_options.not_after_ms = WallClockMs() + config.pipeline.max_future_ms;
  EventPipeline pipeline(pipeline_options, *prices, dead_letters);

  // Detection runs when alerts have somewhere to go.
  std::unique_ptr<JsonlWriter> alerts_out;
  std::unique_ptr<ReplayDetection> detection;
  if (!opt.alerts_out.empty()) {
    auto detectors = CreateKeyDetectors(config.detectors);
    if (!detectors.ok()) {
      std::cerr << "burnrate: " << detectors.status().message() << "\n";
      return kExitBadUsage;
    }
    alerts_out = std::make_unique<JsonlWriter>(opt.alerts_out);
    if (!alerts_out->ok()) {
      std::cerr << "burnrate: cannot write " << opt.alerts_out << "\n";
      return kExitRuntimeFailure;
    }
    detection = std::make_unique<ReplayDetection>(config, std::move(*detectors), *alerts_out);
    pipeline.set_observer(detection->observer());
  }

  uint64_t windows_closed = 0;
  const WindowAggregator::RecordSink sink = [&](const WindowRecord& record) {
    if (detection) detection->Observe(record);
    if (record.scope != WindowScope::kKey && !opt.rollups) return;
    AppendWindowRecordJson(record, windows_out.buffer());
    windows_out.EndLine();
  };

  const auto started = std::chrono::steady_clock::now();
  std::string_view line;
  uint64_t lines = 0;
  while (reader.Next(line)) {
    if (line.empty()) continue;
    pipeline.Process(line);
    // Closing is cheap when nothing is ready; checking every few thousand
    // lines keeps output streaming without a map lookup per event.
    if ((++lines & 4095) == 0) {
      windows_closed += pipeline.CloseReady(sink);
      if (detection) detection->EndWindow();
    }
  }
  if (!reader.error().empty()) {
    std::cerr << "burnrate: " << reader.error() << "\n";
    return kExitRuntimeFailure;
  }
  windows_closed += pipeline.CloseAll(sink);
  if (detection) {
    detection->Finish(pipeline.windows().has_watermark() ? pipeline.windows().watermark().value() : 0);
    alerts_out->Flush();
  }
  windows_out.Flush();
  dead_out.Flush();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!windows_out.ok() || !dead_out.ok() || (alerts_out && !alerts_out->ok())) {
    std::cerr << "burnrate: writing output failed\n";
    return kExitRuntimeFailure;
  }

  const PipelineStats& s = pipeline.stats();
  std::string summary = "{\"summary\":{\"messages\":" + std::to_string(s.messages) +
                        ",\"events\":" + std::to_string(s.events) +
                        ",\"unpriced_events\":" + std::to_string(s.unpriced_events) +
                        ",\"missing_dimension_events\":" + std::to_string(s.missing_dimension_events) +
                        ",\"skipped_spans\":" + std::to_string(pipeline.decoder().skipped_spans()) +
                        ",\"dead_lettered\":" + std::to_string(s.total_rejected()) + ",\"rejected\":{";
  bool first = true;
  for (size_t i = 0; i < kRejectReasonCount; ++i) {
    if (!s.rejected[i]) continue;
    if (!first) summary += ",";
    first = false;
    summary += "\"" + std::string(RejectReasonName(static_cast<RejectReason>(i))) +
               "\":" + std::to_string(s.rejected[i]);
  }
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.3f", seconds);
  summary += "},\"windows_closed\":" + std::to_string(windows_closed) +
             ",\"window_rows\":" + std::to_string(windows_out.lines()) +
             ",\"alerts\":" + std::to_string(detection ? detection->alerts() : 0) + ",\"seconds\":" + rate + "}}\n";
  std::fputs(summary.c_str(), stderr);
  return kExitOk;
}

}  // namespace

CommandRunner AddReplayCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "replay",
      "Run the pipeline over a JSON Lines file or stdin with in-memory state; event time drives "
      "everything and every window is flushed at the end");
  auto opt = std::make_shared<ReplayOptions>();
  cmd->add_option("--config", opt->config_path, "Config file (default: built-in defaults)");
  cmd->add_option("--input", opt->input, "Events, one JSON object per line; - for stdin")->required();
  cmd->add_option("--windows-out", opt->windows_out, "Where closed windows go (JSON Lines; - for stdout)")
      ->capture_default_str();
  cmd->add_option("--dead-letters-out", opt->dead_letters_out,
                  "Where refused input goes, with the reason (JSON Lines; default stderr)");
  cmd->add_option("--alerts-out", opt->alerts_out,
                  "Run the detectors and write alert transitions here (JSON Lines; - for stdout)");
  cmd->add_flag("--rollups", opt->rollups,
                "Also write the tenant, feature, environment and model roll-up rows");
  return [opt]() { return RunReplay(*opt); };
}

}  // namespace burnrate
