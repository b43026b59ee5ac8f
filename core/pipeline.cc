#include "core/pipeline.h"

namespace burnrate {

uint64_t PipelineStats::total_rejected() const {
  uint64_t n = 0;
  for (uint64_t r : rejected) n += r;
  return n;
}

PipelineStats& PipelineStats::operator+=(const PipelineStats& other) {
  messages += other.messages;
  events += other.events;
  unpriced_events += other.unpriced_events;
  missing_dimension_events += other.missing_dimension_events;
  for (size_t i = 0; i < kRejectReasonCount; ++i) rejected[i] += other.rejected[i];
  return *this;
}

PipelineStats& PipelineStats::operator-=(const PipelineStats& other) {
  messages -= other.messages;
  events -= other.events;
  unpriced_events -= other.unpriced_events;
  missing_dimension_events -= other.missing_dimension_events;
  for (size_t i = 0; i < kRejectReasonCount; ++i) rejected[i] -= other.rejected[i];
  return *this;
}

EventPipeline::EventPipeline(PipelineOptions options, const PriceTable& prices,
                             DeadLetterSink& dead_letters)
    : options_(std::move(options)),
      prices_(prices),
      model_prices_(prices),
      dead_letters_(dead_letters),
      decoder_(options_.decoder),
      dedup_(options_.dedup_horizon_ms),
      windows_(options_.windows) {}

void EventPipeline::Reject(std::string_view message, const Rejection& rejection,
                           DeadLetterSink& sink) {
  ++stats_.rejected[static_cast<size_t>(rejection.reason)];
  sink.DeadLetter(message, rejection);
}

void EventPipeline::Process(std::string_view message, std::optional<EventTimeMs> reference_time) {
  ++stats_.messages;
  decoder_.Decode(message, events_, rejections_);
  for (const Rejection& r : rejections_) Reject(message, r);

  for (size_t i = 0; i < events_.size(); ++i) {
    const CostEvent& event = events_[i];
    // The dedup table is too big for the caches: start loading this id's
    // slot now, so the checks and pricing below run while it arrives.
    const uint64_t id_hash = StableHash64(event.event_id);
    dedup_.Prefetch(id_hash);
    if (claims_) claims_->Prefetch(id_hash);
    // An OTLP message holds many spans; a dead letter names the one refused.
    const int32_t item = events_.size() > 1 || !rejections_.empty() ? static_cast<int32_t>(i) : -1;
    // With a reference time (the wall clock in `run`) both bounds apply. In
    // replay the watermark bounds the past only: a quiet stretch in a file
    // (a night without traffic) is not a clock error, and not_after_ms
    // still refuses anything beyond the wall clock.
    const bool too_far_ahead =
        event.time.value() > options_.not_after_ms ||
        (reference_time && event.time.value() > reference_time->value() + options_.max_future_ms);
    const std::optional<EventTimeMs> past_reference =
        reference_time ? reference_time
                       : (windows_.has_watermark() ? std::optional<EventTimeMs>(windows_.watermark()) : std::nullopt);
    if (too_far_ahead || (past_reference && event.time.value() < past_reference->value() - options_.max_past_ms)) {
      Reject(message, {RejectReason::kTimestampOutOfRange, "ts", item}, settled_on_apply());
      continue;
    }
    // Late before duplicate: a late event's id is never counted or
    // remembered, so a copy of it is late as well, whether or not this life
    // of the partition read the original (a recount that starts between the
    // two would otherwise call the copy late where the first life said
    // duplicate).
    const WindowStartMs window = windows_.WindowOf(event.time);
    if (windows_.IsLate(window)) {
      Reject(message, {RejectReason::kLate, "window closed", item}, settled_on_apply());
      continue;
    }
    // Pricing has no side effect, so it runs before the dedup check and the
    // prefetch above has that much longer to land. The model is hashed once,
    // for the price cache and for the window's roll-up by model.
    const HashedStringView model(event.model);
    Money cost;
    bool priced = false;
    if (options_.trust_reported_cost && event.has_reported_cost) {
      cost = Money::FromDollars(event.reported_cost_usd);
      priced = true;
    } else if (const ModelPrice* price = model_prices_.Find(model, event.time)) {
      cost = ComputeCost(event, *price);
      priced = true;
    }
    if (!dedup_.FirstSightingOfHash(id_hash, event.time)) {
      Reject(message, {RejectReason::kDuplicate, "event_id", item});
      continue;
    }
    const ClaimTable::Claim claim =
        claims_ ? claims_->Take(id_hash, claim_partition_, event.time) : ClaimTable::Claim::kNew;
    if (claim == ClaimTable::Claim::kElsewhere) {
      // Whether this copy stays dropped is settled only once its checkpoint
      // is applied (ClaimTable): its dead letter waits for that.
      Reject(message, {RejectReason::kDuplicate, "event_id", item}, settled_on_apply());
      continue;
    }
    windows_.AddToWindow(window, event, model, cost, priced);
    ++stats_.events;
    if (record_counted_ids_) {
      counted_ids_.emplace_back(WindowStartFor(event.time, kEventIdGroupMs).value(), id_hash);
    }
    if (!priced) ++stats_.unpriced_events;
    if (event.missing_dimensions) ++stats_.missing_dimension_events;
    if (observer_) observer_->OnCounted(event, cost, priced);
  }
}

}  // namespace burnrate
