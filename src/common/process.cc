#include "common/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace taquilla {

extern "C" char** environ;

Result<UserIds> LookupUser(const std::string& name) {
  struct passwd pw;
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr) {
    return MakeError(ErrorCode::kNotFound, "no OS user named '{}'", name);
  }
  return UserIds{pw.pw_uid, pw.pw_gid};
}

bool RunningAsRoot() { return geteuid() == 0; }

namespace {

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

// Writes an errno to the pipe and exits; async-signal-safe.
[[noreturn]] void ChildFail(int fd, int err) {
  ssize_t ignored = write(fd, &err, sizeof(err));
  (void)ignored;
  _exit(127);
}

}  // namespace

Result<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return MakeError(ErrorCode::kInvalidArgument, "spawn: empty argv");

  std::optional<UserIds> ids;
  if (!options.run_as_user.empty() && RunningAsRoot()) {
    TQ_ASSIGN_OR_RETURN(ids, LookupUser(options.run_as_user));
  }

  int log_fd = -1;
  if (!options.log_file.empty()) {
    log_fd = open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return MakeError(ErrorCode::kUnavailable, "cannot open log {}: {}", options.log_file,
                       std::strerror(errno));
    }
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  // Everything the child needs is prepared before fork: after it, only async-signal-safe
  // calls are allowed.
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto name = kv.substr(0, kv.find('='));
    if (options.env.count(std::string(name)) == 0) env_strings.emplace_back(kv);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, "pipe: {}", std::strerror(errno));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(pipefd[0]);
    close(pipefd[1]);
    if (log_fd >= 0) close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return MakeError(ErrorCode::kUnavailable, "fork: {}", std::strerror(err));
  }
  if (pid == 0) {
    close(pipefd[0]);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE}) signal(s, SIG_DFL);
    if (options.new_process_group) setpgid(0, 0);
    if (null_fd >= 0) dup2(null_fd, 0);
    if (log_fd >= 0) {
      dup2(log_fd, 1);
      dup2(log_fd, 2);
    }
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) ChildFail(pipefd[1], errno);
    if (ids) {
      if (setgroups(0, nullptr) != 0 || setgid(ids->gid) != 0 || setuid(ids->uid) != 0) {
        ChildFail(pipefd[1], errno);
      }
    }
    // Set after the credential change, which clears it.
    if (options.parent_death_signal != 0) {
      prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
      if (getppid() != parent) _exit(1);
    }
    environ = envp.data();
    execvp(argv[0], argv.data());
    ChildFail(pipefd[1], errno);
  }
  close(pipefd[1]);
  if (log_fd >= 0) close(log_fd);
  if (null_fd >= 0) close(null_fd);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(pipefd[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(pipefd[0]);
  if (n == sizeof(child_errno)) {
    int status;
    waitpid(pid, &status, 0);
    return MakeError(ErrorCode::kUnavailable, "cannot run {}: {}", options.argv[0],
                     std::strerror(child_errno));
  }
  return pid;
}

Result<int> RunAndWait(const SpawnOptions& options) {
  SpawnOptions o = options;
  o.new_process_group = false;
  TQ_ASSIGN_OR_RETURN(pid_t pid, Spawn(o));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return MakeError(ErrorCode::kInternal, "waitpid: {}", std::strerror(errno));
  }
  return DecodeStatus(status);
}

Result<CommandOutput> RunCapture(const std::vector<std::string>& argv,
                                 const std::string& run_as_user) {
  char path[] = "/tmp/taquilla-run-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "mkstemp: {}", std::strerror(errno));
  close(fd);
  SpawnOptions o;
  o.argv = argv;
  o.log_file = path;
  o.run_as_user = run_as_user;
  auto status = RunAndWait(o);
  CommandOutput out;
  if (FILE* f = fopen(path, "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.output.append(buf, n);
    fclose(f);
  }
  unlink(path);
  if (!status.ok()) return status.error();
  out.status = *status;
  return out;
}

std::optional<int> TryReap(pid_t pid) {
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  if (r == pid) return DecodeStatus(status);
  if (r < 0 && errno == ECHILD) return 255;
  return std::nullopt;
}

int StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace) {
  if (auto done = TryReap(pid)) return *done;
  kill(pid, signal);
  auto deadline = std::chrono::steady_clock::now() + grace;
  auto pause = std::chrono::milliseconds(1);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto done = TryReap(pid)) return *done;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return DecodeStatus(status);
}

bool ProcessAlive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace taquilla
