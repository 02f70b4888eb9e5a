#include "http/json_input.h"

#include <cmath>

namespace taquilla::http {

namespace json = boost::json;

Error InvalidField(std::string_view field, std::string_view problem) {
  return MakeReason(ErrorCode::kInvalidArgument, "invalid_field", "Field '{}' {}.", field, problem);
}

Result<json::object> ParseJsonText(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = 32;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) {
    return MakeReason(ErrorCode::kInvalidArgument, "malformed_json",
                      "The body is not valid JSON: {}.", ec.message());
  }
  if (!v.is_object()) {
    return MakeReason(ErrorCode::kInvalidArgument, "invalid_field",
                      "The body must be a JSON object.");
  }
  return std::move(v.as_object());
}

Result<json::object> ParseJsonBody(const Request& req) {
  std::string_view type = req[bhttp::field::content_type];
  auto semi = type.find(';');
  std::string_view media = type.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower;
  for (char c : media) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "application/json") {
    return MakeReason(ErrorCode::kInvalidArgument, "unsupported_media_type",
                      "The body must be JSON (Content-Type: application/json).");
  }
  if (semi != std::string_view::npos) {
    std::string rest;
    for (char c : type.substr(semi + 1)) {
      if (c != ' ') rest += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (!rest.empty() && rest != "charset=utf-8" && rest != "charset=\"utf-8\"") {
      return MakeReason(ErrorCode::kInvalidArgument, "unsupported_media_type",
                        "The body must be UTF-8 JSON.");
    }
  }
  return ParseJsonText(req.body());
}

Fields::Fields(const json::object& object, std::string path)
    : object_(object), path_(std::move(path)) {}

std::string Fields::Name(std::string_view name) const {
  return path_.empty() ? std::string(name) : path_ + "." + std::string(name);
}

void Fields::Fail(std::string_view name, std::string_view problem) {
  if (!error_) error_ = InvalidField(Name(name), problem);
}

void Fields::Allow(std::string_view name) { seen_.emplace(name); }

bool Fields::Has(std::string_view name) const {
  auto it = object_.find(name);
  return it != object_.end() && !it->value().is_null();
}

const json::value* Fields::Get(std::string_view name, bool required) {
  seen_.emplace(name);
  auto it = object_.find(name);
  if (it == object_.end() || it->value().is_null()) {
    if (required) Fail(name, "is required");
    return nullptr;
  }
  return &it->value();
}

std::optional<std::string> Fields::OptStr(std::string_view name, size_t min_len, size_t max_len) {
  const json::value* v = Get(name, false);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    Fail(name, "must be a string");
    return std::nullopt;
  }
  std::string_view s = v->as_string();
  if (s.find('\0') != std::string_view::npos) {
    Fail(name, "must not contain NUL characters");
    return std::nullopt;
  }
  // Length in code points, so limits mean the same in every script.
  size_t points = 0;
  for (unsigned char c : s) points += (c & 0xC0) != 0x80;
  if (points < min_len) {
    Fail(name, min_len == 1 ? "must not be empty"
                            : fmt::format("must be at least {} characters long", min_len));
    return std::nullopt;
  }
  if (points > max_len) {
    Fail(name, fmt::format("must be at most {} characters long", max_len));
    return std::nullopt;
  }
  return std::string(s);
}

std::string Fields::Str(std::string_view name, size_t min_len, size_t max_len) {
  if (!Has(name)) {
    Get(name, true);
    return {};
  }
  return OptStr(name, min_len, max_len).value_or("");
}

std::optional<int64_t> Fields::ToInt(const json::value& v) const {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) {
    if (v.as_uint64() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v.as_uint64());
  }
  return std::nullopt;
}

std::optional<int64_t> Fields::OptInt(std::string_view name, int64_t lo, int64_t hi) {
  const json::value* v = Get(name, false);
  if (!v) return std::nullopt;
  auto i = ToInt(*v);
  bool is_number = v->is_int64() || v->is_uint64() || v->is_double();
  if (!i || *i < lo || *i > hi) {
    Fail(name, is_number || v->is_uint64()
                   ? fmt::format("must be a whole number from {} to {}", lo, hi)
                   : "must be a number");
    return std::nullopt;
  }
  return i;
}

int64_t Fields::Int(std::string_view name, int64_t lo, int64_t hi) {
  if (!Has(name)) {
    Get(name, true);
    return lo;
  }
  return OptInt(name, lo, hi).value_or(lo);
}

std::optional<double> Fields::OptDouble(std::string_view name, double lo, double hi) {
  const json::value* v = Get(name, false);
  if (!v) return std::nullopt;
  if (!v->is_number()) {
    Fail(name, "must be a number");
    return std::nullopt;
  }
  double d = v->to_number<double>();
  if (!std::isfinite(d) || d < lo || d > hi) {
    Fail(name, fmt::format("must be a number from {} to {}", lo, hi));
    return std::nullopt;
  }
  return d;
}

double Fields::Double(std::string_view name, double lo, double hi) {
  if (!Has(name)) {
    Get(name, true);
    return lo;
  }
  return OptDouble(name, lo, hi).value_or(lo);
}

std::optional<bool> Fields::OptBool(std::string_view name) {
  const json::value* v = Get(name, false);
  if (!v) return std::nullopt;
  if (!v->is_bool()) {
    Fail(name, "must be true or false");
    return std::nullopt;
  }
  return v->as_bool();
}

bool Fields::Bool(std::string_view name) {
  if (!Has(name)) {
    Get(name, true);
    return false;
  }
  return OptBool(name).value_or(false);
}

std::string Fields::Enum(std::string_view name, std::initializer_list<std::string_view> values,
                         std::optional<std::string_view> fallback) {
  const json::value* v = Get(name, !fallback.has_value());
  if (!v) return fallback ? std::string(*fallback) : std::string();
  std::string joined;
  for (auto x : values) joined += (joined.empty() ? "" : ", ") + std::string(x);
  if (v->is_string()) {
    std::string_view s = v->as_string();
    for (auto x : values) {
      if (s == x) return std::string(s);
    }
  }
  Fail(name, fmt::format("must be one of {}", joined));
  return fallback ? std::string(*fallback) : std::string(*values.begin());
}

const json::object* Fields::Object(std::string_view name, bool required) {
  const json::value* v = Get(name, required);
  if (!v) return nullptr;
  if (!v->is_object()) {
    Fail(name, "must be an object");
    return nullptr;
  }
  return &v->as_object();
}

const json::array* Fields::Array(std::string_view name, bool required) {
  const json::value* v = Get(name, required);
  if (!v) return nullptr;
  if (!v->is_array()) {
    Fail(name, "must be an array");
    return nullptr;
  }
  return &v->as_array();
}

Status Fields::Finish() {
  if (error_) return *error_;
  for (const auto& kv : object_) {
    if (!seen_.count(std::string_view(kv.key()))) {
      return InvalidField(Name(kv.key()), "is not a known field");
    }
  }
  return Ok();
}

}  // namespace taquilla::http
