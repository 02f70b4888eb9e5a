#include "secure/auth.h"

#include <sodium.h>

#include <algorithm>

namespace taquilla::secure {
namespace {

void InitSodium() {
  static const bool ok = sodium_init() >= 0;
  (void)ok;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password) {
  InitSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError(ErrorCode::kUnavailable, "out of memory hashing a password");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view phc, std::string_view password) {
  InitSodium();
  std::string s(phc);
  return crypto_pwhash_str_verify(s.c_str(), password.data(), password.size()) == 0;
}

std::string NewToken() {
  InitSodium();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char out[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(out, sizeof out, bytes, sizeof bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

std::string TokenHashHex(std::string_view token) {
  InitSodium();
  unsigned char h[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(h, reinterpret_cast<const unsigned char*>(token.data()), token.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string("\\x") + hex;
}

bool SafeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

LoginLimiter::LoginLimiter(const Clock& clock, int per_account, int per_client,
                           std::chrono::seconds window)
    : clock_(clock), per_account_(per_account), per_client_(per_client), window_(window) {}

int LoginLimiter::Wait(Times& times, int limit, Clock::MonoTime now) {
  times.erase(std::remove_if(times.begin(), times.end(),
                             [&](Clock::MonoTime t) { return t + window_ <= now; }),
              times.end());
  if (static_cast<int>(times.size()) < limit) return 0;
  auto oldest = *std::min_element(times.begin(), times.end());
  auto wait = std::chrono::ceil<std::chrono::seconds>(oldest + window_ - now).count();
  return static_cast<int>(std::max<int64_t>(1, wait));
}

int LoginLimiter::Check(const std::string& account, const std::string& client) {
  std::lock_guard lock(mu_);
  auto now = clock_.Monotonic();
  int a = Wait(accounts_[account], per_account_, now);
  int c = Wait(clients_[client], per_client_, now);
  // Forget idle keys now and then so the maps stay bounded.
  if (++calls_ % 1024 == 0) {
    for (auto* m : {&accounts_, &clients_}) {
      std::erase_if(*m, [&](auto& kv) {
        return std::all_of(kv.second.begin(), kv.second.end(),
                           [&](Clock::MonoTime t) { return t + window_ <= now; });
      });
    }
  }
  return std::max(a, c);
}

void LoginLimiter::Failed(const std::string& account, const std::string& client) {
  std::lock_guard lock(mu_);
  auto now = clock_.Monotonic();
  accounts_[account].push_back(now);
  clients_[client].push_back(now);
}

void LoginLimiter::Succeeded(const std::string& account) {
  std::lock_guard lock(mu_);
  accounts_.erase(account);
}

}  // namespace taquilla::secure
