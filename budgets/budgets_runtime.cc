#include "budgets/budgets_runtime.h"

#include "budgets/kafka_quota_sink.h"
#include "budgets/redis_budget_store.h"
#include "budgets/redis_quota_store.h"

namespace burnrate {

namespace {

absl::StatusOr<BudgetsRuntime> Finish(const Config& config, std::shared_ptr<QuotaStore> store,
                                      std::shared_ptr<QuotaSink> sink, BudgetStorePtr budget_store,
                                      WallClock clock) {
  BudgetsRuntime rt;
  rt.publisher =
      std::make_shared<QuotaPublisher>(std::move(store), std::move(sink), std::move(clock));
  rt.snapshot = std::make_shared<QuotaSnapshot>();
  rt.refresher =
      std::make_unique<QuotaRefresher>(rt.publisher, rt.snapshot, config.quota.refresh_interval_ms);
  auto tracker =
      BudgetTracker::Create(config.budgets, config.quota, std::move(budget_store), rt.publisher);
  if (!tracker.ok()) return tracker.status();
  rt.tracker = std::move(*tracker);
  return rt;
}

}  // namespace

absl::StatusOr<BudgetsRuntime> MakeRedisBudgets(const Config& config, WallClock clock) {
  const RedisConfig& redis = config.redis;
  auto sink = KafkaQuotaSink::Create(config.kafka, config.quota.kafka_topic);
  if (!sink.ok()) return sink.status();
  return Finish(config, std::make_shared<RedisQuotaStore>(redis, config.quota.redis_key_prefix),
                std::shared_ptr<QuotaSink>(std::move(*sink)),
                std::make_unique<RedisBudgetStore>(redis), std::move(clock));
}

absl::StatusOr<BudgetsRuntime> MakeMemoryBudgets(const Config& config, WallClock clock) {
  return Finish(config, std::make_shared<MemoryQuotaStore>(), nullptr,
                std::make_unique<MemoryBudgetStore>(), std::move(clock));
}

}  // namespace burnrate
