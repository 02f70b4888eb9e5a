// Credentials: argon2id password hashes, random session tokens stored only as their
// SHA-256, and the limiter of failed logins. Thread-safe (libsodium is initialised once;
// the limiter locks).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"

namespace taquilla::secure {

// An argon2id PHC string (libsodium's interactive limits).
Result<std::string> HashPassword(std::string_view password);
bool VerifyPassword(std::string_view phc, std::string_view password);

// 256 random bits, base64url without padding (43 characters).
std::string NewToken();
// The SHA-256 of a token, as PostgreSQL bytea hex input ("\x…").
std::string TokenHashHex(std::string_view token);
// Constant-time comparison.
bool SafeEquals(std::string_view a, std::string_view b);

// Counts failed logins per account and per client address in a sliding window. Once
// either reaches its limit, Check refuses with the seconds until the oldest failure
// leaves the window. A success clears the account's failures (not the address's, so one
// good account cannot launder guesses against others).
class LoginLimiter {
 public:
  LoginLimiter(const Clock& clock, int per_account, int per_client, std::chrono::seconds window);
  // 0 if a login may be tried now, else the seconds to wait.
  int Check(const std::string& account, const std::string& client);
  void Failed(const std::string& account, const std::string& client);
  void Succeeded(const std::string& account);

 private:
  using Times = std::vector<Clock::MonoTime>;
  int Wait(Times& times, int limit, Clock::MonoTime now);
  const Clock& clock_;
  const int per_account_, per_client_;
  const std::chrono::seconds window_;
  std::mutex mu_;
  std::map<std::string, Times> accounts_, clients_;
  int calls_ = 0;
};

}  // namespace taquilla::secure
