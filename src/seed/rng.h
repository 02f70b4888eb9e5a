// Rng: a small, fast, deterministic PRNG (xoshiro256** seeded through splitmix64).
// The same seed gives the same sequence on every platform; never seeded from the
// environment. A value type owned by one thread; not thread-safe.
#pragma once

#include <cstdint>
#include <iterator>
#include <string_view>

namespace taquilla::seed {

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A seed for an independent stream named `name` (e.g. one per table), so adding draws
// to one table does not change the rows of another.
inline uint64_t DeriveSeed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a of the name, mixed with the seed
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  uint64_t s = seed ^ h;
  return SplitMix64(s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (auto& w : s_) w = SplitMix64(s);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n) (n > 0); multiply-shift, bias negligible for our n.
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [lo, hi] inclusive.
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1)));
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }

  // An index drawn with the given integer weights.
  template <typename Weights>
  size_t Weighted(const Weights& w) {
    uint64_t total = 0;
    for (auto x : w) total += static_cast<uint64_t>(x);
    uint64_t r = Below(total);
    size_t i = 0;
    for (auto x : w) {
      if (r < static_cast<uint64_t>(x)) return i;
      r -= static_cast<uint64_t>(x);
      ++i;
    }
    return i - 1;
  }

  template <typename Vec>
  const auto& Pick(const Vec& v) {
    return v[Below(std::size(v))];
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace taquilla::seed
