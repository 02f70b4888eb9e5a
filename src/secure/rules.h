// The marketplace's pure rules: how many tickets of a listing a buyer may hold (the split
// rule), what an order costs, and what a listing may look like. No I/O; thread-safe.
// The hold statement in SQL mirrors SplitAllows; a test checks they agree on every case.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace taquilla::secure {

enum class SplitVerdict {
  kOk,
  kNotEnough,  // fewer tickets available than requested
  kSplitRule,  // enough tickets, but the split rule forbids this count
};

// any: any count; pairs: even counts only, never leaving exactly one; all: the whole
// remaining listing at once; no_single: never leaves exactly one ticket.
SplitVerdict CheckSplit(std::string_view split, int64_t available, int64_t requested);

// The counts a buyer may choose from, for a quantity picker ({} when none).
std::string AllowedCounts(std::string_view split, int64_t available);

// The service fee in minor units: `fee_bp` basis points of the subtotal, rounded half up.
int64_t FeeMinor(int64_t subtotal_minor, int fee_bp);

struct ListingShape {
  int64_t quantity = 0;
  std::string split;
  std::optional<int64_t> seat_from, seat_to;
};
// Checks a listing's quantity, split and seats fit together; the error names the field.
Status CheckListingShape(const ListingShape& l);

}  // namespace taquilla::secure
