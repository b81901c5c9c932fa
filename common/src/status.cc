#include "vaultd/common/status.h"

#include <cstring>

namespace vaultd {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kPermissionDenied:
      return "PermissionDenied";
    case StatusCode::kUnauthenticated:
      return "Unauthenticated";
    case StatusCode::kIoError:
      return "IoError";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

Status Status::FromErrno(int err, std::string_view what) {
  StatusCode code = StatusCode::kIoError;
  if (err == ENOENT)
    code = StatusCode::kNotFound;
  else if (err == EEXIST)
    code = StatusCode::kAlreadyExists;
  else if (err == EACCES || err == EPERM || err == EROFS)
    code = StatusCode::kPermissionDenied;
  Status s(code, std::string(what) + ": " + std::strerror(err));
  s.errno_ = err;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(code_, std::string(context) + ": " + message_);
  s.errno_ = errno_;
  return s;
}

}  // namespace vaultd
