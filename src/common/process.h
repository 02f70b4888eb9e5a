// Child processes: spawning servers (PostgreSQL, Redis, taquilla daemons) with their
// output sent to a log file, optionally as another OS user, in their own process group,
// and killed by the kernel if the spawning thread dies. Stateless functions; safe to
// call from any thread, though fork() copies only the calling thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace taquilla {

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is looked up in PATH when it has no '/'
  std::string log_file;                    // stdout and stderr appended here; empty: inherited
  std::string run_as_user;                 // switch to this user (only when running as root)
  std::string cwd;                         // working directory; empty: unchanged
  std::map<std::string, std::string> env;  // added to (or replacing in) the environment
  bool new_process_group = true;           // so a terminal's Ctrl-C reaches only the supervisor
  int parent_death_signal = 15;            // SIGTERM when the parent dies; 0 for none
};

// Starts the process; returns its pid. Fails if the executable cannot be run (the child
// reports exec errors back through a close-on-exec pipe before this returns).
Result<pid_t> Spawn(const SpawnOptions& options);

// Runs to completion, returning the exit status (128+signal if killed). Output goes to
// options.log_file or is inherited.
Result<int> RunAndWait(const SpawnOptions& options);

// Runs to completion and captures stdout+stderr.
struct CommandOutput {
  int status = 0;
  std::string output;
};
Result<CommandOutput> RunCapture(const std::vector<std::string>& argv,
                                 const std::string& run_as_user = "");

// Sends `signal`, waits up to `grace` for the process to exit, then SIGKILLs it.
// Returns the exit status as RunAndWait does. `pid` must be a child of this process.
int StopProcess(pid_t pid, int signal, std::chrono::milliseconds grace);

// Non-blocking reap: the exit status if `pid` has exited.
std::optional<int> TryReap(pid_t pid);

// True if a process with this pid exists (it may be a zombie).
bool ProcessAlive(pid_t pid);

// uid/gid of an OS user.
struct UserIds {
  uid_t uid;
  gid_t gid;
};
Result<UserIds> LookupUser(const std::string& name);

bool RunningAsRoot();

}  // namespace taquilla
