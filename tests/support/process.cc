#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/scratch.h"
#include "tests/support/wait.h"

extern char** environ;

namespace burnrate::testing {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  throw std::runtime_error("burnrate test support (process): " + what);
}

std::string Errno(const std::string& call) { return call + ": " + std::strerror(errno); }

// A directory for child output files, created once per test process and
// removed when it exits (kept if a test failed).
const std::string& OutputDir() {
  static const ScratchDir dir("burnrate-test");
  return dir.path();
}

std::string DefaultOutputPath(const std::string& program, const char* stream) {
  static std::atomic<int> counter{0};
  const std::string base = program.substr(program.find_last_of('/') + 1);
  return OutputDir() + "/" + base + "-" + std::to_string(counter.fetch_add(1)) + "." + stream;
}

// execve needs a path; searching PATH here keeps the child (after fork, in a
// multi-threaded process) to async-signal-safe calls only.
std::string ResolveProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  Fail(program + " not found in PATH");
}

int OpenOutput(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Fail(Errno("open " + path));
  return fd;
}

ExitStatus FromWaitStatus(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) {
    s.exited = true;
    s.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  }
  return s;
}

}  // namespace

int FreeLoopbackPort() {
  // Below the kernel's ephemeral range (as scripts/lib/common.sh picks the
  // stack's ports): a port found free here is never handed to some client's
  // outgoing connection meanwhile, so a receiver stopped for an outage test
  // can listen on it again.
  int low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> low;
  const int span = low - 20000 >= 1000 ? low - 20000 : 12768;
  static std::mutex mu;
  static std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    int port;
    {
      std::lock_guard lock(mu);
      port = 20000 + static_cast<int>(rng() % static_cast<unsigned>(span));
    }
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) Fail(Errno("socket"));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (free) return port;
  }
  Fail("no free port on 127.0.0.1 between 20000 and the ephemeral range after 200 tries");
}

std::string ExitStatus::ToString() const {
  if (exited) return "exit " + std::to_string(code);
  return "signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

namespace {
ChildProcessOptions MakeOptions(std::vector<std::string> argv,
                                std::vector<std::pair<std::string, std::string>> env) {
  ChildProcessOptions options;
  options.argv = std::move(argv);
  options.env = std::move(env);
  return options;
}
}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv,
                           std::vector<std::pair<std::string, std::string>> env)
    : ChildProcess(MakeOptions(std::move(argv), std::move(env))) {}

ChildProcess::ChildProcess(ChildProcessOptions options) {
  if (options.argv.empty()) Fail("ChildProcess needs a program");
  const std::string program = ResolveProgram(options.argv[0]);
  stdout_path_ =
      options.stdout_path.empty() ? DefaultOutputPath(program, "stdout") : options.stdout_path;
  stderr_path_ =
      options.stderr_path.empty() ? DefaultOutputPath(program, "stderr") : options.stderr_path;

  // Everything the child needs is built before fork.
  std::vector<char*> argv;
  for (auto& arg : options.argv) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& [key, value] : options.env) replaced = replaced || key == name;
    if (!replaced) env_strings.emplace_back(entry);
  }
  for (const auto& [key, value] : options.env) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_strings) envp.push_back(entry.data());
  envp.push_back(nullptr);

  const int in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) Fail(Errno("open /dev/null"));
  const int out_fd = OpenOutput(stdout_path_);
  const int err_fd = OpenOutput(stderr_path_);
  // The child reports a failed exec through this pipe; a successful exec
  // closes it (O_CLOEXEC) and the parent reads end-of-file.
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) Fail(Errno("pipe2"));
  const char* dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  const pid_t parent = getpid();

  pid_ = fork();
  if (pid_ == 0) {
    // Async-signal-safe calls only from here to execve.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the parent is already gone
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) {
      sigaction(sig, &dfl, nullptr);
    }
    int error = 0;
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) error = errno;
    if (error == 0 && dir != nullptr && chdir(dir) != 0) error = errno;
    // Only the report pipe survives past stdio, so a server started by the
    // child cannot hold the test's sockets or pipes open.
    int report_fd = report[1];
    if (report_fd != 3) {
      report_fd = dup3(report[1], 3, O_CLOEXEC) < 0 ? report[1] : 3;
    }
    if (report_fd == 3 && close_range(4, ~0U, 0) != 0) {
      for (int fd = 4; fd < 65536; ++fd) close(fd);
    }
    if (error == 0) {
      execve(program.c_str(), argv.data(), envp.data());
      error = errno;
    }
    [[maybe_unused]] ssize_t ignored = write(report_fd, &error, sizeof error);
    _exit(127);
  }
  const int fork_errno = errno;
  close(in_fd);
  close(out_fd);
  close(err_fd);
  close(report[1]);
  if (pid_ < 0) {
    close(report[0]);
    errno = fork_errno;
    Fail(Errno("fork"));
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    Reap(/*block=*/true);
    pid_ = -1;
    Fail("cannot start " + program + ": " + std::strerror(child_errno));
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    Reap(/*block=*/true);
  }
}

bool ChildProcess::Reap(bool block) {
  if (status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = FromWaitStatus(status);
    return true;
  }
  return false;
}

bool ChildProcess::Running() { return !Reap(/*block=*/false); }

void ChildProcess::Kill(int signal) {
  // A zombie keeps its pid until reaped, so this never hits a recycled pid.
  if (pid_ > 0 && !status_) kill(pid_, signal);
}

std::optional<ExitStatus> ChildProcess::Wait(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + Scaled(deadline);
  while (!Reap(/*block=*/false)) {
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

std::string ChildProcess::ReadStdout() const { return ReadFile(stdout_path_); }
std::string ChildProcess::ReadStderr() const { return ReadFile(stderr_path_); }

}  // namespace burnrate::testing
