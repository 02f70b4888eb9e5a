// Clock: the time source every component takes as a parameter, so tests can fake it.
//
// SystemClock reads the real clocks. FakeClock holds a time that only moves when the
// test says so; it is thread-safe (an atomic), so a test thread may advance it while
// the code under test reads it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace taquilla {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Wall-clock time, for timestamps that are stored or shown.
  virtual WallTime Now() const = 0;
  // Monotonic time, for timeouts and durations.
  virtual MonoTime Monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime Monotonic() const override { return std::chrono::steady_clock::now(); }
  // A process-wide instance.
  static const SystemClock& Instance();
};

// The clock's wall time as whole seconds since the Unix epoch.
inline int64_t UnixSeconds(const Clock& clock = SystemClock::Instance()) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
}

class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start = WallTime(std::chrono::seconds(1'800'000'000)))
      : wall_ns_(start.time_since_epoch().count()), mono_ns_(0) {}

  WallTime Now() const override {
    return WallTime(WallTime::duration(wall_ns_.load(std::memory_order_acquire)));
  }
  MonoTime Monotonic() const override {
    return MonoTime(MonoTime::duration(mono_ns_.load(std::memory_order_acquire)));
  }
  // Moves both clocks forward by `d`.
  void Advance(std::chrono::nanoseconds d) {
    wall_ns_.fetch_add(std::chrono::duration_cast<WallTime::duration>(d).count());
    mono_ns_.fetch_add(std::chrono::duration_cast<MonoTime::duration>(d).count());
  }
  void SetWall(WallTime t) { wall_ns_.store(t.time_since_epoch().count()); }

 private:
  std::atomic<WallTime::rep> wall_ns_;
  std::atomic<MonoTime::rep> mono_ns_;
};

}  // namespace taquilla
