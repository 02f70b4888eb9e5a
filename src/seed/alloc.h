// Listing quantities: draws (quantity, quantity_available) pairs for active listings
// whose quantity_available sums to an exact ticket total. Pure and deterministic.
#pragma once

#include <cstdint>
#include <vector>

#include "seed/rng.h"

namespace taquilla::seed {

struct ListingQty {
  int quantity;
  int available;
};

// Quantities 1..8 skewed to 2 and 4; ~8% partly sold. sum(available) == total exactly
// (the last listing is shrunk to fit). total <= 0 gives no listings.
inline std::vector<ListingQty> AllocateTickets(Rng& rng, int64_t total) {
  static constexpr int kWeights[8] = {10, 36, 7, 26, 4, 10, 2, 5};  // quantities 1..8
  std::vector<ListingQty> out;
  if (total <= 0) return out;
  out.reserve(static_cast<size_t>(total / 3 + 1));
  int64_t sum = 0;
  while (sum < total) {
    int q = static_cast<int>(rng.Weighted(kWeights)) + 1;
    int a = q;
    if (q > 1 && rng.Chance(0.08)) a = static_cast<int>(rng.Range(1, q - 1));
    int64_t left = total - sum;
    if (a > left) a = static_cast<int>(left);  // the last listing: a partly sold one
    out.push_back({q, a});
    sum += a;
  }
  return out;
}

}  // namespace taquilla::seed
