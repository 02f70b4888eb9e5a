#include "secure/rules.h"

#include "http/json_input.h"

namespace taquilla::secure {

SplitVerdict CheckSplit(std::string_view split, int64_t available, int64_t requested) {
  if (requested < 1 || requested > available) return SplitVerdict::kNotEnough;
  int64_t left = available - requested;
  if (split == "pairs") {
    if (requested % 2 != 0 || left == 1) return SplitVerdict::kSplitRule;
  } else if (split == "all") {
    if (requested != available) return SplitVerdict::kSplitRule;
  } else if (split == "no_single") {
    if (left == 1) return SplitVerdict::kSplitRule;
  }
  return SplitVerdict::kOk;
}

std::string AllowedCounts(std::string_view split, int64_t available) {
  std::string out;
  for (int64_t n = 1; n <= available; ++n) {
    if (CheckSplit(split, available, n) == SplitVerdict::kOk) {
      out += (out.empty() ? "" : ",") + std::to_string(n);
    }
  }
  return out;
}

int64_t FeeMinor(int64_t subtotal_minor, int fee_bp) {
  return (subtotal_minor * fee_bp + 5000) / 10000;
}

Status CheckListingShape(const ListingShape& l) {
  if (l.split == "pairs" && l.quantity % 2 != 0) {
    return http::InvalidField("quantity", "must be even for a listing sold in pairs");
  }
  if (l.seat_from.has_value() != l.seat_to.has_value()) {
    return http::InvalidField(l.seat_from ? "seat_to" : "seat_from",
                              "must be given together with the other seat number");
  }
  if (l.seat_from) {
    if (*l.seat_to < *l.seat_from) {
      return http::InvalidField("seat_to", "must not be lower than seat_from");
    }
    if (*l.seat_to - *l.seat_from + 1 != l.quantity) {
      return http::InvalidField("quantity",
                                "must equal the number of seats from seat_from to "
                                "seat_to");
    }
  }
  return Ok();
}

}  // namespace taquilla::secure
