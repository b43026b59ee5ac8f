#include "engine/closer_lease.h"

#include <unistd.h>

#include <chrono>

#include "core/concat.h"

namespace burnrate {
namespace {

// Extends the lease when this holder has it, takes it when nobody does.
constexpr char kHoldScript[] = R"lua(
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if current then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua";

constexpr char kReleaseScript[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua";

}  // namespace

CloserLease::CloserLease(RedisConfig options, std::string key, std::string holder, int64_t ttl_ms)
    : redis_(std::move(options)),
      key_(std::move(key)),
      holder_(std::move(holder)),
      ttl_ms_(ttl_ms) {}

absl::StatusOr<bool> CloserLease::Hold() {
  auto reply = redis_.Script(kHoldScript, {key_}, {holder_, std::to_string(ttl_ms_)});
  if (!reply.ok()) {
    held_ = false;  // cannot tell: act as if lost (the claims still keep windows single)
    return reply.status();
  }
  held_ = reply->integer == 1;
  return held_;
}

absl::Status CloserLease::Release() {
  if (!held_) return absl::OkStatus();
  held_ = false;
  auto reply = redis_.Script(kReleaseScript, {key_}, {holder_});
  return reply.ok() ? absl::OkStatus() : reply.status();
}

std::string ThisProcessHolderName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  const int64_t start = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  return Concat(host, ":", static_cast<int64_t>(::getpid()), ":", start);
}

}  // namespace burnrate
