// Helpers for tests that start real processes: the taquilla binary under test, and
// polling with a deadline instead of sleeping.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace taquilla::testing {

// The binary under test (CTest sets TAQUILLA_TEST_BIN).
inline std::string TaquillaBin() {
  const char* b = std::getenv("TAQUILLA_TEST_BIN");
  return b ? b : "taquilla";
}

// Polls `done` with a growing pause (2 ms to 100 ms) until it returns true or the deadline
// passes; returns its last answer.
template <typename F>
bool Eventually(F done, std::chrono::milliseconds deadline = std::chrono::seconds(60)) {
  using namespace std::chrono_literals;
  auto end = std::chrono::steady_clock::now() + deadline;
  auto pause = 2ms;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 100ms);
  }
  return done();
}

}  // namespace taquilla::testing
