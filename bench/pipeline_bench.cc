// Single-core cost of burnrate's per-event path, over realistic events
// (~370 bytes, 1% duplicates, 1% malformed; tools/event_stream.h) held in
// memory so that no I/O is measured:
//   BM_Decode                  decoding alone
//   BM_DecodePriceAggregate    EventPipeline::Process (decode, time bounds,
//                              lateness, price, dedup, window) plus closing windows,
//                              as `burnrate replay` drives it
//   BM_WindowMemoryPerKey      resident bytes one window key costs
// Run: build-*/bench/burnrate-bench-pipeline (docs/benchmarks.md).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/decode.h"
#include "core/pipeline.h"
#include "core/pricing.h"
#include "core/window.h"
#include "tools/event_stream.h"

namespace burnrate {
namespace {

// Lines per corpus: big enough that windows open and close as in a real
// replay, small enough (~90 MB) to keep two corpora in memory.
constexpr uint64_t kCorpusLines = 250'000;

// A generated stream in one buffer, and the price table it was made for.
struct Corpus {
  std::string text;
  std::vector<std::string_view> lines;
  std::unique_ptr<PriceTable> prices;
};

const Corpus& CorpusFor(uint64_t keys) {
  static std::map<uint64_t, std::unique_ptr<Corpus>> cache;
  std::unique_ptr<Corpus>& slot = cache[keys];
  if (slot) return *slot;
  testgen::StreamOptions options;
  options.events = kCorpusLines;
  options.keys = keys;
  options.seed = 42;
  // The event-time density of the default 1M-line, 30-minute stream
  // (~33,000 events per 1-minute window).
  options.rate = 1'000'000 / 1800.0;
  options.track_expected = false;
  testgen::EventStream stream(options);
  auto corpus = std::make_unique<Corpus>();
  corpus->text.reserve(kCorpusLines * 400);
  std::vector<size_t> ends;
  ends.reserve(kCorpusLines);
  while (!stream.done()) {
    stream.Next(corpus->text);
    ends.push_back(corpus->text.size());
  }
  size_t begin = 0;
  for (size_t end : ends) {
    corpus->lines.emplace_back(corpus->text.data() + begin, end - begin);
    begin = end;
  }
  auto table = PriceTable::Parse(stream.PriceTableYaml(), "burnrate-gen-events prices");
  if (!table.ok()) throw std::runtime_error(std::string(table.status().message()));
  corpus->prices = std::make_unique<PriceTable>(*std::move(table));
  slot = std::move(corpus);
  return *slot;
}

class CountingDeadLetters : public DeadLetterSink {
 public:
  void DeadLetter(std::string_view, const Rejection&) override { ++count; }
  uint64_t count = 0;
};

void BM_Decode(benchmark::State& state) {
  const Corpus& corpus = CorpusFor(static_cast<uint64_t>(state.range(0)));
  EventDecoder decoder;
  std::vector<CostEvent> events;
  std::vector<Rejection> rejections;
  uint64_t decoded = 0;
  for (auto _ : state) {
    for (std::string_view line : corpus.lines) {
      decoder.Decode(line, events, rejections);
      decoded += events.size();
    }
  }
  benchmark::DoNotOptimize(decoded);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(corpus.lines.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(corpus.text.size()));
}
BENCHMARK(BM_Decode)->ArgName("keys")->Arg(10'000)->Unit(benchmark::kMillisecond);

// One iteration is one replay of the corpus through a fresh pipeline (dedup
// state and windows start empty, as in `burnrate replay`), closing windows
// every 4096 lines and all of them at the end.
void BM_DecodePriceAggregate(benchmark::State& state) {
  const Corpus& corpus = CorpusFor(static_cast<uint64_t>(state.range(0)));
  CountingDeadLetters dead_letters;
  uint64_t rows = 0;
  const WindowAggregator::RecordSink sink = [&rows](const WindowRecord& record) {
    benchmark::DoNotOptimize(record.totals);
    ++rows;
  };
  uint64_t accepted = 0;
  for (auto _ : state) {
    EventPipeline pipeline(PipelineOptions{}, *corpus.prices, dead_letters);
    uint64_t n = 0;
    for (std::string_view line : corpus.lines) {
      pipeline.Process(line);
      if ((++n & 4095) == 0) pipeline.CloseReady(sink);
    }
    pipeline.CloseAll(sink);
    accepted = pipeline.stats().events;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(corpus.lines.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(corpus.text.size()));
  state.counters["accepted_per_replay"] = static_cast<double>(accepted);
  state.counters["rows_per_replay"] =
      static_cast<double>(rows) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_DecodePriceAggregate)
    ->ArgName("keys")
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

size_t ResidentBytes() {
  long pages_total = 0, pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
  std::fclose(f);
  return static_cast<size_t>(pages_resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Resident memory of one window holding N distinct keys (key bytes, totals,
// hash table), measured as the growth of the process's RSS while filling it.
// Key names are sized like real ones (~20-byte tenant, ~12-byte feature).
void BM_WindowMemoryPerKey(benchmark::State& state) {
  const auto keys = static_cast<size_t>(state.range(0));
  static constexpr std::string_view kFeatures[] = {"support-chat", "code-review",   "doc-qa",
                                                   "email-draft",  "agent-planner", "sql-assistant",
                                                   "translation",  "meeting-notes"};
  static constexpr std::string_view kEnvironments[] = {"prod", "staging", "dev", "eval"};
  std::vector<std::string> tenants(keys / 32 + 1);
  for (size_t i = 0; i < tenants.size(); ++i) tenants[i] = "tenant-acme-corp-" + std::to_string(i);
  for (auto _ : state) {
    CostEvent event;
    event.time = EventTimeMs(1'793'577'600'000);
    event.model = "gen-large-1";
    event.tokens[TokenKind::kInput] = 1000;
    event.tokens[TokenKind::kOutput] = 100;
    WindowOptions options;
    options.max_keys_per_window = keys + 1;
    const size_t before = ResidentBytes();
    {
      WindowAggregator windows(options);
      for (size_t i = 0; i < keys; ++i) {
        // i <-> (i / 32, i % 8, i / 8 % 4): every key distinct.
        event.tenant = tenants[i / 32];
        event.feature = kFeatures[i % 8];
        event.environment = kEnvironments[i / 8 % 4];
        windows.Add(event, Money::FromPicodollars(1'000'000), true);
      }
      const size_t after = ResidentBytes();
      if (windows.open_keys() != keys) state.SkipWithError("keys were merged or dropped");
      state.counters["bytes_per_key"] =
          static_cast<double>(after - before) / static_cast<double>(keys);
      state.counters["keys"] = static_cast<double>(windows.open_keys());
    }
  }
}
BENCHMARK(BM_WindowMemoryPerKey)
    ->ArgName("keys")
    ->Arg(1'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace burnrate

BENCHMARK_MAIN();
