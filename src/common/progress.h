// Progress: a one-line progress bar on stderr, drawn only when stderr is a terminal
// (so logs and CI output stay clean). Redraws at most ten times a second. One owner
// thread; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace taquilla {

class Progress {
 public:
  Progress(std::string label, uint64_t total);
  ~Progress();
  void Add(uint64_t n) { Set(done_ + n); }
  void Set(uint64_t done);
  void SetLabel(std::string label);
  void Finish();

 private:
  void Draw();
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace taquilla
