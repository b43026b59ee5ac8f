// Silences: matchers over alert labels with an expiry, from the config file
// and from the admin API (POST/GET/DELETE /v1/silences). A silenced
// transition is taken off the outbox without being delivered anywhere.
// API silences are kept in the outbox, so they survive restarts and every
// replica sharing the outbox sees them (after its next refresh).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/alerting_config.h"
#include "alerting/clock.h"
#include "alerting/outbox.h"
#include "core/http_types.h"

namespace burnrate {

struct Silence {
  std::string id;
  std::map<std::string, std::string> match;  // label -> value, all must match
  int64_t until_ms = 0;
  std::string reason;
  std::string origin;  // "config" or "api"
  int64_t created_ms = 0;
};

std::string SilenceToJson(const Silence& silence);
absl::StatusOr<Silence> SilenceFromJson(std::string_view json);

// Owned by the delivery service; borrows the outbox and the clock.
// Thread-safe (a mutex; Match takes it briefly).
class SilenceRegistry {
 public:
  SilenceRegistry(const std::vector<SilenceConfig>& from_config, AlertOutbox& outbox,
                  const AlertClock& clock);

  // Re-reads API silences from the outbox and drops expired ones there.
  absl::Status Refresh();
  // The id of an active silence matching the alert, if any.
  std::optional<std::string> Match(const Alert& alert) const;
  // Validates and stores an API silence; InvalidArgument for bad input.
  absl::StatusOr<Silence> Add(std::map<std::string, std::string> match, int64_t until_ms,
                              std::string reason);
  // NotFound when there is no such API silence; FailedPrecondition for a
  // silence from the config file (edit the file instead).
  absl::Status Remove(const std::string& id);
  std::vector<Silence> Active() const;
  int64_t NowMs() const { return clock_.NowMs(); }

 private:
  AlertOutbox& outbox_;
  const AlertClock& clock_;
  mutable std::mutex mu_;
  std::vector<Silence> config_;
  std::vector<Silence> api_;
  uint64_t next_id_;
};

// The admin handler for /v1/silences (an ordinary HttpHandler; the server in
// http/ routes to it and checks the admin bearer token before calling it):
//   GET    /v1/silences        -> 200 {"silences":[...]} (active ones)
//   POST   /v1/silences        {"match":{"tenant":"acme"}, "until":"RFC 3339" | "duration":"2h",
//   "reason":"..."}
//                              -> 201 {"id":"...", ...}; 400 for bad input
//   DELETE /v1/silences/<id>   -> 200; 404 unknown; 409 for a config silence
// Bodies over 64 KiB get 413; other methods 405.
HttpHandler MakeSilencesHandler(SilenceRegistry& registry);

}  // namespace burnrate
