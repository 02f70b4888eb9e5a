// JSON request bodies: parsing with the API's errors, and a field reader that checks
// types, ranges, required and unknown fields.
//
// ParseJsonBody: 415 unsupported_media_type unless the Content-Type is
// application/json, 400 malformed_json for invalid JSON or UTF-8 (Boost.JSON validates
// it), 422 when the top level is not an object.
//
// Fields reads one object: each getter names a field, checks it, and remembers it; the
// first problem is kept and Finish() returns it (or an error for a field no getter asked
// for), so a handler reads every field and then checks once. Strings never contain NUL
// (PostgreSQL text cannot hold it). A Fields is used by one thread.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/server.h"

namespace taquilla::http {

Result<boost::json::object> ParseJsonBody(const Request& req);
Result<boost::json::object> ParseJsonText(std::string_view text);

class Fields {
 public:
  // `path` prefixes field names in messages ("payment.number").
  explicit Fields(const boost::json::object& object, std::string path = "");

  std::string Str(std::string_view name, size_t min_len, size_t max_len);
  // Absent or null: nullopt.
  std::optional<std::string> OptStr(std::string_view name, size_t min_len, size_t max_len);
  int64_t Int(std::string_view name, int64_t lo, int64_t hi);
  std::optional<int64_t> OptInt(std::string_view name, int64_t lo, int64_t hi);
  double Double(std::string_view name, double lo, double hi);
  std::optional<double> OptDouble(std::string_view name, double lo, double hi);
  bool Bool(std::string_view name);
  std::optional<bool> OptBool(std::string_view name);
  // One of `values`; `fallback` (returned when absent) makes it optional.
  std::string Enum(std::string_view name, std::initializer_list<std::string_view> values,
                   std::optional<std::string_view> fallback = std::nullopt);
  // Sub-structures; nullptr when absent (an error if required) or wrong type.
  const boost::json::object* Object(std::string_view name, bool required = true);
  const boost::json::array* Array(std::string_view name, bool required = true);
  // Marks a field as known without reading it.
  void Allow(std::string_view name);
  // Has: present and not null. Present: present, null or not.
  bool Has(std::string_view name) const;
  bool Present(std::string_view name) const { return object_.contains(name); }

  // The first problem found, else an error for any field nobody read, else Ok.
  Status Finish();
  bool failed() const { return error_.has_value(); }
  // Records a problem found by the caller (kept only if it is the first).
  void Fail(std::string_view name, std::string_view problem);

 private:
  const boost::json::value* Get(std::string_view name, bool required);
  std::string Name(std::string_view name) const;
  std::optional<int64_t> ToInt(const boost::json::value& v) const;

  const boost::json::object& object_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
  std::optional<Error> error_;
};

// A 422 invalid_field Error naming `field`.
Error InvalidField(std::string_view field, std::string_view problem);

}  // namespace taquilla::http
