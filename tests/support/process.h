// Child processes and free ports for tests that run real programs (the
// burnrate binary, scripts/stack).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace burnrate::testing {

// A TCP port on 127.0.0.1 that nothing listened on a moment ago, chosen at
// random below the kernel's ephemeral range (so no outgoing connection is
// given it). Another process may still take it before the caller binds, so
// servers under test should prefer binding port 0 themselves.
int FreeLoopbackPort();

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // returned from main or called exit
  int code = 0;         // exit code, when exited
  int signal = 0;       // terminating signal, when not exited
  bool ok() const { return exited && code == 0; }
  std::string ToString() const;  // "exit 0", "signal 9 (Killed)"
};

struct ChildProcessOptions {
  // argv[0] is the program: a path, or a name looked up in PATH.
  std::vector<std::string> argv;
  // Added to (or replacing in) the test's own environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Where stdout and stderr go; empty means a fresh file under $TMPDIR (or
  // /tmp), kept after the test so a failure can be investigated.
  std::string stdout_path;
  std::string stderr_path;
  // Working directory of the child; empty means the test's.
  std::string working_dir;
};

// A running child process (fork + exec), owned by this object: the destructor
// kills it with SIGKILL if it still runs and reaps it, so a failing test never
// leaves a process behind. The child also gets SIGKILL if the thread that
// started it ends (PR_SET_PDEATHSIG), which covers a test process that
// crashes; start children from the test's own thread, not from a short-lived
// helper thread. stdin is /dev/null. Not thread-safe.
class ChildProcess {
 public:
  // Starts the process; throws std::runtime_error if it cannot be executed.
  explicit ChildProcess(ChildProcessOptions options);
  explicit ChildProcess(std::vector<std::string> argv,
                        std::vector<std::pair<std::string, std::string>> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True until the process has exited (reaps it when it has).
  bool Running();
  // Sends signal (e.g. SIGTERM, SIGKILL, SIGSTOP) unless it has already been reaped.
  void Kill(int signal);
  // Waits up to deadline (Scaled) for the process to exit; nullopt if it
  // still runs.
  // Once it has exited, returns the same status on every call.
  std::optional<ExitStatus> Wait(std::chrono::milliseconds deadline);

  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }
  std::string ReadStdout() const;
  std::string ReadStderr() const;

 private:
  bool Reap(bool block);

  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// Reads a whole file ("" if it cannot be read).
std::string ReadFile(const std::string& path);

}  // namespace burnrate::testing
