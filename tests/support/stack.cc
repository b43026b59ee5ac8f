#include "tests/support/stack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

extern char** environ;

namespace burnrate::testing {
namespace {

using std::chrono::seconds;

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("burnrate test stack: " + what);
}

std::string StackScript() { return std::string(BURNRATE_SOURCE_DIR) + "/scripts/stack"; }

std::string TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

struct ScriptResult {
  std::optional<ExitStatus> status;  // nullopt: killed at the deadline
  std::string output;                // stderr then stdout
  bool ok() const { return status && status->ok(); }
  std::string Describe() const {
    std::string tail = output.size() > 4000 ? "..." + output.substr(output.size() - 4000) : output;
    return (status ? status->ToString() : std::string("timed out")) + "; output:\n" + tail;
  }
};

// Runs `scripts/stack args...` on the given stack directory.
ScriptResult RunStack(const std::string& stack_dir, const std::vector<std::string>& args,
                      seconds deadline) {
  ChildProcessOptions options;
  options.argv = {StackScript()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.env = {{"BURNRATE_STACK_DIR", stack_dir}};
  // Beside, not inside, the stack directory: `down` deletes that.
  std::string dir = TempDir() + "/burnrate-stack-log-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) Fail("mkdtemp " + dir + ": " + std::strerror(errno));
  options.stdout_path = dir + "/stdout";
  options.stderr_path = dir + "/stderr";

  ScriptResult result;
  {
    ChildProcess child(std::move(options));
    result.status = child.Wait(deadline);
    if (!result.status) {
      child.Kill(SIGKILL);
      child.Wait(seconds(10));
    }
    result.output = child.ReadStderr() + child.ReadStdout();
    unlink(child.stdout_path().c_str());
    unlink(child.stderr_path().c_str());
  }
  rmdir(dir.c_str());
  return result;
}

// KEY=VALUE lines, as scripts/stack writes them (bash-sourceable).
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail("cannot read BURNRATE_STACK_ENV file " + path + ": " + std::strerror(errno));
  std::map<std::string, std::string> vars;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("export ", 0) == 0) line.erase(0, 7);
    const size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    vars[line.substr(0, eq)] = value;
  }
  return vars;
}

StackInfo ParseStackInfo(const std::string& env_path) {
  auto vars = ReadEnvFile(env_path);
  StackInfo info;
  for (const char* key : {"BURNRATE_KAFKA_BROKERS", "BURNRATE_REDIS_HOST", "BURNRATE_REDIS_PORT"}) {
    if (vars[key].empty()) Fail(env_path + " does not set " + key);
  }
  info.kafka_brokers = vars["BURNRATE_KAFKA_BROKERS"];
  info.redis_host = vars["BURNRATE_REDIS_HOST"];
  try {
    info.redis_port = std::stoi(vars["BURNRATE_REDIS_PORT"]);
  } catch (const std::exception&) {
    Fail(env_path + ": bad BURNRATE_REDIS_PORT " + vars["BURNRATE_REDIS_PORT"]);
  }
  info.kafka_sasl_ssl_brokers = vars["BURNRATE_KAFKA_SASL_SSL_BROKERS"];
  info.kafka_ca_file = vars["BURNRATE_KAFKA_CA_FILE"];
  info.kafka_sasl_username = vars["BURNRATE_KAFKA_SASL_USERNAME"];
  info.kafka_sasl_password = vars["BURNRATE_KAFKA_SASL_PASSWORD"];
  // The env file lives in the stack directory.
  info.stack_dir = vars["BURNRATE_STACK_DIR"];
  if (info.stack_dir.empty()) info.stack_dir = env_path.substr(0, env_path.find_last_of('/'));
  return info;
}

// Whether something accepts TCP connections at host:port (loopback, so a
// refusal is immediate and no timeout is needed).
bool Accepts(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = inet_pton(AF_INET, host.c_str(), &addr.sin_addr) == 1 &&
                  connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

void CheckReachable(const StackInfo& info, const std::string& env_path) {
  // Only the first broker is checked; the stack has one.
  const std::string broker = info.kafka_brokers.substr(0, info.kafka_brokers.find(','));
  const size_t colon = broker.rfind(':');
  const int kafka_port = colon == std::string::npos ? -1 : std::atoi(broker.c_str() + colon + 1);
  if (!Accepts(broker.substr(0, colon), kafka_port)) {
    Fail("Kafka at " + broker + " (from BURNRATE_STACK_ENV=" + env_path +
         ") does not accept connections; is the stack up? (scripts/stack status)");
  }
  if (!Accepts(info.redis_host, info.redis_port)) {
    Fail("Redis at " + info.redis_host + ":" + std::to_string(info.redis_port) +
         " (from BURNRATE_STACK_ENV=" + env_path + ") does not accept connections");
  }
}

// Starts a detached process that runs `scripts/stack down` for stack_dir once
// the test process is gone without having stopped the stack itself (a crash,
// an abort, ctest's SIGKILL on timeout). It waits for end-of-file on a pipe
// whose only write end the test process holds; writing a byte instead tells
// it the stack is already down. Returns that write end.
int StartWatchdog(const std::string& stack_dir) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) Fail(std::string("pipe2: ") + std::strerror(errno));
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  // Built before fork: the child may only make async-signal-safe calls.
  std::string script = StackScript();
  std::string down = "down";
  char* argv[] = {script.data(), down.data(), nullptr};
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "BURNRATE_STACK_DIR=", 19) != 0) env_strings.emplace_back(*e);
  }
  env_strings.push_back("BURNRATE_STACK_DIR=" + stack_dir);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  const pid_t first = fork();
  if (first < 0) Fail(std::string("fork: ") + std::strerror(errno));
  if (first == 0) {
    // A new session and a second fork: neither ctest killing the test's
    // process tree nor a terminal's Ctrl-C reaches the watchdog.
    setsid();
    if (fork() != 0) _exit(0);
    dup2(fds[0], 0);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    close_range(3, ~0U, 0);
    char byte;
    ssize_t n;
    do {
      n = read(0, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) _exit(0);
    execve(argv[0], argv, envp.data());
    _exit(127);
  }
  close(fds[0]);
  if (devnull >= 0) close(devnull);
  int status;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  return fds[1];
}

// Stack() state. Never destroyed, so the exit handler can still use it.
struct State {
  std::mutex mu;
  std::optional<StackInfo> info;
  std::string error;  // why no stack is available; later calls fail the same way
  std::string owned_dir;
  int watchdog_fd = -1;
};

State& GetState() {
  static State* state = new State;
  return *state;
}

void DismissWatchdog(State& state) {
  if (state.watchdog_fd < 0) return;
  const char byte = 'x';
  [[maybe_unused]] ssize_t ignored = write(state.watchdog_fd, &byte, 1);
  close(state.watchdog_fd);
  state.watchdog_fd = -1;
}

void StopOwnedStackAtExit() {
  State& state = GetState();
  std::lock_guard lock(state.mu);
  if (state.owned_dir.empty()) return;
  try {
    const ScriptResult down = RunStack(state.owned_dir, {"down"}, seconds(120));
    if (!down.ok()) {
      std::cerr << "burnrate test stack: scripts/stack down failed: " << down.Describe() << "\n";
      return;  // the watchdog gets end-of-file and tries again
    }
  } catch (const std::exception& e) {
    std::cerr << "burnrate test stack: stopping " << state.owned_dir << ": " << e.what() << "\n";
    return;
  }
  state.owned_dir.clear();
  DismissWatchdog(state);
}

StackInfo StartOwnedStack(State& state) {
  std::string dir = TempDir() + "/burnrate-stack-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) {
    Fail("mkdtemp " + dir + ": " + std::strerror(errno));
  }
  // Armed before `up`, so a crash while the services start still stops them.
  state.watchdog_fd = StartWatchdog(dir);
  state.owned_dir = dir;
  const auto t0 = std::chrono::steady_clock::now();
  const ScriptResult up = RunStack(dir, {"up"}, seconds(240));
  if (!up.ok()) {
    const ScriptResult down = RunStack(dir, {"down"}, seconds(120));
    if (down.ok()) {
      state.owned_dir.clear();
      DismissWatchdog(state);
    }
    Fail("`" + StackScript() + " up` (BURNRATE_STACK_DIR=" + dir + ") failed: " + up.Describe());
  }
  std::atexit(StopOwnedStackAtExit);
  StackInfo info = ParseStackInfo(dir + "/env");
  std::cerr << "burnrate test stack: started in " << dir << " ("
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms): kafka " << info.kafka_brokers << ", redis " << info.redis_host << ":"
            << info.redis_port << "\n";
  return info;
}

void CheckService(std::string_view service) {
  if (service != "kafka" && service != "redis") {
    Fail("unknown service '" + std::string(service) + "' (kafka or redis)");
  }
}

}  // namespace

const StackInfo& Stack() {
  State& state = GetState();
  std::lock_guard lock(state.mu);
  if (state.info) return *state.info;
  if (!state.error.empty()) throw std::runtime_error(state.error);
  try {
    const char* env_path = std::getenv("BURNRATE_STACK_ENV");
    if (env_path != nullptr && *env_path != '\0') {
      StackInfo info = ParseStackInfo(env_path);
      CheckReachable(info, env_path);
      state.info = std::move(info);
    } else {
      state.info = StartOwnedStack(state);
    }
  } catch (const std::exception& e) {
    state.error = e.what();
    throw;
  }
  return *state.info;
}

void StopService(std::string_view service, bool kill9) {
  CheckService(service);
  const StackInfo& stack = Stack();
  std::vector<std::string> args = {"stop", std::string(service)};
  if (kill9) args.push_back("--kill");
  const ScriptResult result = RunStack(stack.stack_dir, args, seconds(90));
  if (!result.ok()) Fail("scripts/stack stop " + std::string(service) + ": " + result.Describe());
}

void StartService(std::string_view service) {
  CheckService(service);
  const StackInfo& stack = Stack();
  const ScriptResult result =
      RunStack(stack.stack_dir, {"start", std::string(service)}, seconds(150));
  if (!result.ok()) Fail("scripts/stack start " + std::string(service) + ": " + result.Describe());
}

}  // namespace burnrate::testing
