#include "sync/lsn.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace taquilla::sync {
namespace {

// Parses 1..max_digits hex digits filling all of `text`.
bool ParseHex(std::string_view text, size_t max_digits, uint64_t* out) {
  if (text.empty() || text.size() > max_digits) return false;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;  // no sign, no "0x"
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<Lsn> ParseLsn(std::string_view text) {
  size_t slash = text.find('/');
  uint64_t hi = 0, lo = 0;
  if (slash == std::string_view::npos || !ParseHex(text.substr(0, slash), 8, &hi) ||
      !ParseHex(text.substr(slash + 1), 8, &lo)) {
    return MakeError(ErrorCode::kInvalidArgument, "not an LSN: '{}'", text);
  }
  return (hi << 32) | lo;
}

std::string FormatLsn(Lsn lsn) { return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xFFFFFFFFu); }

std::string LsnKey(Lsn lsn) { return fmt::format("{:016X}", lsn); }

Result<Lsn> ParseLsnKey(std::string_view key) {
  uint64_t v = 0;
  if (key.size() != 16 || !ParseHex(key, 16, &v)) {
    return MakeError(ErrorCode::kInvalidArgument, "not an LSN key: '{}'", key);
  }
  return v;
}

}  // namespace taquilla::sync
