// Response helpers: the API's JSON bodies and its one error shape,
// {"error": {"code": "snake_case", "message": "human sentence"}}.
// Plain functions; thread-safe.
#pragma once

#include <boost/json.hpp>
#include <string_view>

#include "common/result.h"
#include "http/server.h"

namespace taquilla::http {

inline constexpr std::string_view kJsonType = "application/json; charset=utf-8";

Response JsonResponse(bhttp::status status, const boost::json::value& body);
Response ErrorResponse(bhttp::status status, std::string_view code, std::string_view message);
// 204 No Content.
Response NoContent();
// A redirect (303 See Other unless told).
Response Redirect(std::string_view location, bhttp::status status = bhttp::status::see_other);

// The HTTP status of an Error: its reason's own status where it has one (hold_expired is
// 410, payment_declined 402, rate_limited 429 ...), else the one of its code.
bhttp::status StatusOf(const Error& error);
// The API code of an Error: its reason, else a name for its code ("not_found").
std::string CodeOf(const Error& error);
// The error response of an Error. Internal errors hide their message.
Response ErrorResponse(const Error& error);

}  // namespace taquilla::http
