#include "http/response.h"

namespace taquilla::http {

Response JsonResponse(bhttp::status status, const boost::json::value& body) {
  Response res{status, 11};
  res.set(bhttp::field::content_type, kJsonType);
  res.set(bhttp::field::cache_control, "no-store");
  res.body() = boost::json::serialize(body);
  res.body() += '\n';
  return res;
}

Response ErrorResponse(bhttp::status status, std::string_view code, std::string_view message) {
  boost::json::object err;
  err["code"] = code;
  err["message"] = message;
  boost::json::object body;
  body["error"] = std::move(err);
  return JsonResponse(status, body);
}

Response NoContent() {
  Response res{bhttp::status::no_content, 11};
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

Response Redirect(std::string_view location, bhttp::status status) {
  Response res{status, 11};
  res.set(bhttp::field::location, location);
  res.set(bhttp::field::cache_control, "no-store");
  return res;
}

bhttp::status StatusOf(const Error& error) {
  const std::string& r = error.reason;
  if (r == "hold_expired") return bhttp::status::gone;
  if (r == "payment_declined") return bhttp::status::payment_required;
  if (r == "rate_limited") return bhttp::status::too_many_requests;
  if (r == "payload_too_large") return bhttp::status::payload_too_large;
  if (r == "unsupported_media_type") return bhttp::status::unsupported_media_type;
  if (r == "malformed_json" || r == "bad_request") return bhttp::status::bad_request;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return bhttp::status::unprocessable_entity;
    case ErrorCode::kNotFound:
      return bhttp::status::not_found;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
    case ErrorCode::kFailedPrecondition:
      return bhttp::status::conflict;
    case ErrorCode::kPermissionDenied:
      return bhttp::status::forbidden;
    case ErrorCode::kUnauthenticated:
      return bhttp::status::unauthorized;
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
      return bhttp::status::service_unavailable;
    case ErrorCode::kInternal:
      break;
  }
  return bhttp::status::internal_server_error;
}

std::string CodeOf(const Error& error) {
  // "pg:…" reasons are database details, not API codes.
  if (!error.reason.empty() && error.reason.rfind("pg:", 0) != 0) return error.reason;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_field";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kConflict:
    case ErrorCode::kFailedPrecondition:
      return "conflict";
    case ErrorCode::kPermissionDenied:
      return "forbidden";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
      return "unavailable";
    case ErrorCode::kInternal:
      break;
  }
  return "internal";
}

Response ErrorResponse(const Error& error) {
  bhttp::status status = StatusOf(error);
  if (status == bhttp::status::internal_server_error) {
    return ErrorResponse(status, "internal", "The server failed to answer this request.");
  }
  Response res = ErrorResponse(status, CodeOf(error), error.message);
  if (status == bhttp::status::service_unavailable) res.set(bhttp::field::retry_after, "1");
  return res;
}

}  // namespace taquilla::http
