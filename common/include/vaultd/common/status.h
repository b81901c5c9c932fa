// Status and Result<T>: the one way to fail across module boundaries.
//
// A Status carries a small code and a message that names the path, key or
// line involved ("policy.yaml:12: unknown key 'mdoe'"). Exceptions from
// third-party parsers are caught at the parse boundary and turned into one.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vaultd {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad input: a malformed file, a bad flag, a bad token
  kNotFound,          // a path, key or name that does not exist
  kAlreadyExists,     // a path or name that must not exist yet
  kPermissionDenied,  // authenticated but not allowed, or EACCES/EROFS
  kUnauthenticated,   // missing, forged or expired credentials
  kIoError,           // a system call failed
  kCorruption,        // stored data does not decode
  kUnavailable,       // a peer or service did not answer; retry may help
  kInternal,          // a bug: an invariant did not hold
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  // An IoError from errno: "<what>: <strerror(err)>", e.g. "open /vault/a.md: No such file".
  static Status FromErrno(int err, std::string_view what);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The errno behind an IoError made by FromErrno, or 0.
  int sys_errno() const { return errno_; }

  // "NotFound: open /x: No such file or directory"; "OK" for success.
  std::string ToString() const;

  // Prefixes the message with context ("loading vaultd.yaml: ..."); OK stays OK.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  int errno_ = 0;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit on purpose
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status has no value");
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T value_or(T fallback) const { return ok() ? std::get<T>(v_) : std::move(fallback); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace vaultd

#define VAULTD_CONCAT_INNER_(a, b) a##b
#define VAULTD_CONCAT_(a, b) VAULTD_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define VAULTD_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::vaultd::Status vaultd_status_ = (expr);        \
    if (!vaultd_status_.ok()) return vaultd_status_; \
  } while (0)

// `lhs = value of expr`, or returns its Status from the enclosing function.
#define VAULTD_ASSIGN_OR_RETURN(lhs, expr) \
  VAULTD_ASSIGN_OR_RETURN_IMPL_(VAULTD_CONCAT_(vaultd_result_, __LINE__), lhs, expr)
#define VAULTD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
