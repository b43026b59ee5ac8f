#include "budgets/period.h"

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "core/concat.h"

namespace burnrate {

struct PeriodCalendar::Zone {
  absl::TimeZone tz;
};

std::string_view BudgetPeriodName(BudgetPeriod period) {
  switch (period) {
    case BudgetPeriod::kDay:
      return "day";
    case BudgetPeriod::kWeek:
      return "week";
    case BudgetPeriod::kMonth:
      return "month";
  }
  return "month";
}

absl::StatusOr<PeriodCalendar> PeriodCalendar::Create(const std::string& time_zone) {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(time_zone, &tz)) {
    return absl::InvalidArgumentError(
        Concat("unknown time zone '", time_zone, "' (not in the tz database)"));
  }
  return PeriodCalendar(time_zone, std::make_unique<Zone>(Zone{tz}));
}

PeriodCalendar::PeriodCalendar(std::string name, std::unique_ptr<Zone> zone)
    : name_(std::move(name)), zone_(std::move(zone)) {}
PeriodCalendar::PeriodCalendar(const PeriodCalendar& other)
    : name_(other.name_), zone_(std::make_unique<Zone>(*other.zone_)) {}
PeriodCalendar& PeriodCalendar::operator=(const PeriodCalendar& other) {
  name_ = other.name_;
  zone_ = std::make_unique<Zone>(*other.zone_);
  return *this;
}
PeriodCalendar::~PeriodCalendar() = default;

PeriodBounds PeriodCalendar::PeriodOf(BudgetPeriod kind, int64_t t_ms) const {
  const absl::TimeZone& tz = zone_->tz;
  const absl::CivilDay day = absl::ToCivilDay(absl::FromUnixMillis(t_ms), tz);
  absl::CivilDay first;
  absl::CivilDay next;
  std::string id;
  switch (kind) {
    case BudgetPeriod::kDay:
      first = day;
      next = day + 1;
      id = absl::FormatCivilTime(day);
      break;
    case BudgetPeriod::kWeek: {
      // ISO weeks start on Monday.
      const int since_monday =
          (static_cast<int>(absl::GetWeekday(day)) - static_cast<int>(absl::Weekday::monday) + 7) %
          7;
      first = day - since_monday;
      next = first + 7;
      id = Concat("week-of-", absl::FormatCivilTime(first));
      break;
    }
    case BudgetPeriod::kMonth: {
      const absl::CivilMonth month(day);
      first = absl::CivilDay(month);
      next = absl::CivilDay(month + 1);
      id = absl::FormatCivilTime(month);
      break;
    }
  }
  PeriodBounds b;
  // Local midnight; on a DST gap day FromCivil picks the first valid instant.
  b.start_ms = absl::ToUnixMillis(absl::FromCivil(absl::CivilSecond(first), tz));
  b.end_ms = absl::ToUnixMillis(absl::FromCivil(absl::CivilSecond(next), tz));
  b.id = std::move(id);
  return b;
}

}  // namespace burnrate
