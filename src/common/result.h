// Result<T>: the value of an operation that can fail in an expected way.
//
// Expected failures (bad input, a server that is down, a conflict) travel as values,
// never as exceptions across components; library exceptions are caught at the adapter
// and mapped to an Error. A Result is a plain value type: not thread-safe to mutate,
// safe to copy between threads.
#pragma once

#include <fmt/format.h>

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace taquilla {

enum class ErrorCode {
  kInvalidArgument,     // the caller's input is wrong (HTTP 400/422)
  kNotFound,            // 404
  kAlreadyExists,       // 409
  kConflict,            // 409: state does not allow it now
  kFailedPrecondition,  // the system is not in a state to do it (e.g. database not empty)
  kPermissionDenied,    // 403
  kUnauthenticated,     // 401
  kUnavailable,         // a dependency is down (503), retrying may help
  kDeadlineExceeded,    // timed out waiting
  kInternal,            // a bug or an unexpected library error
};

std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
  // Optional machine-readable reason in snake_case ("not_enough_tickets"); the HTTP API
  // shows it as the error code, and some reasons have their own status (410, 402, 429).
  std::string reason;

  // Returns a copy whose message is prefixed with `context: `.
  Error Wrap(std::string_view context) const {
    return Error{code, fmt::format("{}: {}", context, message), reason};
  }
  std::string ToString() const { return fmt::format("{}: {}", ErrorCodeName(code), message); }
};

template <typename... Args>
Error MakeError(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Error{code, fmt::format(f, std::forward<Args>(args)...)};
}

// An Error with an API reason: MakeReason(ErrorCode::kConflict, "split_rule", "...").
template <typename... Args>
Error MakeReason(ErrorCode code, std::string reason, fmt::format_string<Args...> f,
                 Args&&... args) {
  return Error{code, fmt::format(f, std::forward<Args>(args)...), std::move(reason)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool ok_ = true;
};

using Status = Result<void>;

inline Status Ok() { return Status(); }

}  // namespace taquilla

// Evaluates `expr` (a Result); on failure returns its Error from the enclosing function.
#define TQ_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    auto tq_status_ = (expr);                        \
    if (!tq_status_.ok()) return tq_status_.error(); \
  } while (0)

#define TQ_CONCAT_INNER(a, b) a##b
#define TQ_CONCAT(a, b) TQ_CONCAT_INNER(a, b)
// TQ_ASSIGN_OR_RETURN(auto x, Compute()): binds the value or returns the Error.
#define TQ_ASSIGN_OR_RETURN(lhs, expr) \
  TQ_ASSIGN_OR_RETURN_IMPL(TQ_CONCAT(tq_result_, __LINE__), lhs, expr)
#define TQ_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.error();             \
  lhs = std::move(tmp).value()
