// Calendar budget periods (day, ISO week from Monday, month) in a configured
// time zone, read from the system tz database through Abseil.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "budgets/budgets_config.h"

namespace burnrate {

struct PeriodBounds {
  int64_t start_ms = 0;
  int64_t end_ms = 0;  // exclusive
  std::string id;      // "2026-11", "week-of-2026-11-16" (its Monday), "2026-11-22"
  int64_t length_ms() const { return end_ms - start_ms; }
};

std::string_view BudgetPeriodName(BudgetPeriod period);

// Immutable after Create; thread-safe.
class PeriodCalendar {
 public:
  // Fails when the zone is not in the tz database.
  static absl::StatusOr<PeriodCalendar> Create(const std::string& time_zone);
  PeriodCalendar(const PeriodCalendar&);
  PeriodCalendar& operator=(const PeriodCalendar&);
  ~PeriodCalendar();

  // The period of `kind` containing instant t_ms.
  PeriodBounds PeriodOf(BudgetPeriod kind, int64_t t_ms) const;
  const std::string& time_zone() const { return name_; }

 private:
  struct Zone;
  PeriodCalendar(std::string name, std::unique_ptr<Zone> zone);
  std::string name_;
  std::unique_ptr<Zone> zone_;
};

}  // namespace burnrate
