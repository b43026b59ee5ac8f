// RFC 3339 timestamps to and from epoch milliseconds, without the C library's
// locale- and time-zone-dependent functions (they are slow and not thread-safe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace burnrate {

// Parses "2026-11-22T16:30:00Z", "2026-11-22T16:30:00.123+01:00" and the
// like (a space may stand for the 'T'; fractions beyond milliseconds are
// truncated). Returns nullopt for anything else, including impossible dates.
std::optional<int64_t> ParseRfc3339Ms(std::string_view text);

// Formats as "2026-11-22T16:30:00.000Z" (UTC, always millisecond precision).
std::string FormatRfc3339Ms(int64_t epoch_ms);
// Appends the same to `out`; for hot output paths.
void AppendRfc3339Ms(int64_t epoch_ms, std::string& out);

// The system clock in epoch milliseconds: the clock event times are on.
int64_t WallClockMs();

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
void CivilFromDays(int64_t days, int64_t& year, unsigned& month, unsigned& day);

}  // namespace burnrate
