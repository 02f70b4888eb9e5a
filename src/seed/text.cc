#include "seed/text.h"

#include <sodium.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <array>
#include <cstring>

namespace taquilla::seed {
namespace {

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string_view VarFor(std::string_view name, const PatternVars& v, bool* found) {
  *found = true;
  if (name == "performer") return v.performer;
  if (name == "city") return v.city;
  if (name == "venue") return v.venue;
  if (name == "year") return v.year;
  if (name == "kind") return v.kind;
  if (name == "Kind") return v.Kind;
  if (name == "kinds") return v.kinds;
  if (name == "Kinds") return v.Kinds;
  if (name == "category") return v.category;
  *found = false;
  return {};
}

}  // namespace

void Substitute(std::string_view pattern, const PatternVars& vars, std::string* out,
                std::vector<Span>* spans) {
  if (spans) spans->clear();
  size_t lit_begin = out->size();
  auto close_literal = [&] {
    if (spans && out->size() > lit_begin) {
      spans->emplace_back(static_cast<uint32_t>(lit_begin), static_cast<uint32_t>(out->size()));
    }
  };
  size_t i = 0;
  while (i < pattern.size()) {
    size_t open = pattern.find('{', i);
    if (open == std::string_view::npos) {
      out->append(pattern.substr(i));
      break;
    }
    size_t close = pattern.find('}', open + 1);
    if (close == std::string_view::npos) {
      out->append(pattern.substr(i));
      break;
    }
    out->append(pattern.substr(i, open - i));
    bool found = false;
    std::string_view value = VarFor(pattern.substr(open + 1, close - open - 1), vars, &found);
    if (!found) {
      out->append(pattern.substr(open, close - open + 1));
    } else {
      close_literal();
      size_t b = out->size();
      out->append(value);
      if (spans && out->size() > b) {
        spans->emplace_back(static_cast<uint32_t>(b), static_cast<uint32_t>(out->size()));
      }
      lit_begin = out->size();
    }
    i = close + 1;
  }
  close_literal();
}

std::string Substitute(std::string_view pattern, const PatternVars& vars) {
  std::string out;
  Substitute(pattern, vars, &out);
  return out;
}

std::string FinishSlug(std::string_view ascii, size_t max_len) {
  std::string out;
  out.reserve(ascii.size());
  for (unsigned char c : ascii) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      out.push_back(static_cast<char>(c));
    } else if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  if (out.size() > max_len) {
    bool mid_word = out[max_len] != '-';
    out.resize(max_len);
    if (mid_word) {
      size_t dash = out.rfind('-');
      if (dash != std::string::npos && dash >= max_len / 2) out.resize(dash);
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

Slugger::Slugger() {
  UErrorCode status = U_ZERO_ERROR;
  translit_.reset(
      icu::Transliterator::createInstance("Any-Latin; Latin-ASCII; Lower", UTRANS_FORWARD, status));
  if (U_FAILURE(status)) translit_.reset();
}

Slugger::~Slugger() = default;

const std::string& Slugger::ToAscii(std::string_view text) {
  auto it = cache_.find(std::string(text));
  if (it != cache_.end()) return it->second;
  std::string out;
  if (IsAscii(text) || !translit_) {
    out.assign(text);
  } else {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
    translit_->transliterate(u);
    u.toUTF8String(out);
  }
  return cache_.emplace(std::string(text), std::move(out)).first->second;
}

std::string Slugger::Slug(std::string_view text, size_t max_len) {
  if (IsAscii(text)) return FinishSlug(text, max_len);
  return FinishSlug(ToAscii(text), max_len);
}

std::string Slugger::SlugPieces(std::string_view text, const std::vector<Span>& spans,
                                size_t max_len) {
  if (IsAscii(text)) return FinishSlug(text, max_len);
  scratch_.clear();
  unsigned char prev_last = 0;
  for (const auto& [b, e] : spans) {
    std::string_view piece = text.substr(b, e - b);
    if (piece.empty()) continue;
    unsigned char first = static_cast<unsigned char>(piece.front());
    if (prev_last >= 0x80 || first >= 0x80) scratch_.push_back(' ');
    if (IsAscii(piece)) {
      scratch_.append(piece);
    } else {
      scratch_.append(ToAscii(piece));
    }
    prev_last = static_cast<unsigned char>(piece.back());
  }
  return FinishSlug(scratch_, max_len);
}

std::string Slugify(std::string_view text, size_t max_len) {
  thread_local Slugger slugger;
  return slugger.Slug(text, max_len);
}

std::string CapitalizeFirst(std::string_view text) {
  if (text.empty()) return {};
  int32_t i = 0;
  UChar32 c;
  U8_NEXT(reinterpret_cast<const uint8_t*>(text.data()), i, static_cast<int32_t>(text.size()), c);
  if (c < 0) return std::string(text);
  UChar32 up = u_totitle(c);
  char buf[U8_MAX_LENGTH];
  int32_t n = 0;
  UBool err = false;
  U8_APPEND(reinterpret_cast<uint8_t*>(buf), n, U8_MAX_LENGTH, up, err);
  if (err) return std::string(text);
  std::string out(buf, static_cast<size_t>(n));
  out.append(text.substr(static_cast<size_t>(i)));
  return out;
}

Result<std::string> DemoPasswordHash(std::string_view password, uint64_t seed) {
  if (sodium_init() < 0) return MakeError(ErrorCode::kInternal, "libsodium init failed");
  // The salt is derived from the seed so the same options give the same hash.
  std::array<unsigned char, 8 + 20> material{};
  for (int i = 0; i < 8; ++i) material[i] = static_cast<unsigned char>(seed >> (8 * i));
  std::memcpy(material.data() + 8, "taquilla-seed-salt-v1", 20);
  unsigned char salt[crypto_pwhash_SALTBYTES];
  crypto_generichash(salt, sizeof(salt), material.data(), material.size(), nullptr, 0);
  unsigned char hash[32];
  const unsigned long long ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  const size_t mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (crypto_pwhash(hash, sizeof(hash), password.data(), password.size(), salt, ops, mem,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError(ErrorCode::kInternal, "argon2id hashing failed (out of memory?)");
  }
  char salt_b64[sodium_base64_ENCODED_LEN(sizeof(salt), sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
  char hash_b64[sodium_base64_ENCODED_LEN(sizeof(hash), sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
  sodium_bin2base64(salt_b64, sizeof(salt_b64), salt, sizeof(salt),
                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  sodium_bin2base64(hash_b64, sizeof(hash_b64), hash, sizeof(hash),
                    sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
  return fmt::format("$argon2id$v=19$m={},t={},p=1${}${}", mem / 1024, ops, salt_b64, hash_b64);
}

}  // namespace taquilla::seed
