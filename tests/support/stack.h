// The real Kafka and Redis that integration tests run against, and the one
// header those tests include: it also brings in the Kafka, Redis, process and
// waiting helpers of burnrate::testsupport.
//
// Helpers report infrastructure failures (a stack that does not start, a topic
// that cannot be created, a lost delivery) by throwing std::runtime_error;
// GoogleTest turns that into a failed test carrying the message, so a broken
// environment can never pass as a skipped or green test.
#pragma once

#include <string>
#include <string_view>

#include "tests/support/kafka.h"    // IWYU pragma: export
#include "tests/support/process.h"  // IWYU pragma: export
#include "tests/support/redis.h"    // IWYU pragma: export
#include "tests/support/wait.h"     // IWYU pragma: export

namespace burnrate::testing {

// Where the test stack listens. All addresses are on 127.0.0.1.
struct StackInfo {
  std::string kafka_brokers;  // host:port, for bootstrap.servers
  std::string redis_host;
  int redis_port = 0;
  std::string stack_dir;  // the BURNRATE_STACK_DIR scripts/stack manages
  // The broker's SASL_SSL listener (SCRAM-SHA-512 over TLS): its address,
  // the CA that signed its certificate, and the one user's credentials.
  // Empty for a stack started before the listener existed.
  std::string kafka_sasl_ssl_brokers;
  std::string kafka_ca_file;
  std::string kafka_sasl_username;
  std::string kafka_sasl_password;
};

// Returns the stack, starting it on the first call. Thread-safe.
//
// When BURNRATE_STACK_ENV names an env file written by `scripts/stack up`
// (scripts/test does this, so a whole ctest run shares one stack), that stack
// is reused and never stopped here. Otherwise the first call runs
// `scripts/stack up` in a fresh temporary BURNRATE_STACK_DIR and the stack is
// stopped when the process exits, or, should the process crash or be killed,
// by a detached watchdog that notices its exit.
//
// Throws std::runtime_error (failing the calling test) when no stack is
// available; later calls fail the same way without retrying.
const StackInfo& Stack();

// Stops one service of the stack ("kafka" or "redis"): SIGTERM and a wait for
// a clean shutdown, or SIGKILL when kill9 is set. Its data and port are kept,
// so StartService brings it back as a restarted server would come back.
// Works for owned and reused stacks alike. Throws on failure.
void StopService(std::string_view service, bool kill9);

// Starts a stopped service again and returns once it accepts clients.
void StartService(std::string_view service);

}  // namespace burnrate::testing
