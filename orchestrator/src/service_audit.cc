// The audit log: one JSON object per line, appended with a single write() so
// concurrent writers (or a crash) never interleave or tear a line.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "service_context.h"
#include "vaultd/common/log.h"

namespace vaultd::orchestrator::service {

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, bool fsync) {
  if (path.empty()) return std::unique_ptr<AuditLog>(new AuditLog(-1, "stderr", false));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Status::FromErrno(errno, "open audit log " + path);
  return std::unique_ptr<AuditLog>(new AuditLog(fd, path, fsync));
}

AuditLog::~AuditLog() {
  if (fd_ >= 0) ::close(fd_);
}

void AuditLog::Write(const nlohmann::json& line) {
  // Invalid UTF-8 from a token claim must not make dump() throw: replace it.
  WriteLine(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void AuditLog::WriteLine(std::string text) {
  text.push_back('\n');
  const int fd = fd_ >= 0 ? fd_ : STDERR_FILENO;
  ssize_t n;
  do n = ::write(fd, text.data(), text.size());
  while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(text.size())) {
    log::Error("audit log write failed",
               {{"path", path_}, {"error", n < 0 ? std::string(strerror(errno)) : "short write"}});
    return;
  }
  if (fsync_ && ::fdatasync(fd) != 0)
    log::Error("audit log fsync failed",
               {{"path", path_}, {"error", std::string(strerror(errno))}});
}

void LogLimiter::Write(log::Level level, std::string_view msg,
                       std::initializer_list<log::Field> fields) {
  if (!log::Enabled(level)) return;
  const MonoTime now = (*clock_)->Monotonic();
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++held_back_;
    metrics_->CountSuppressedLogLine();
    return;
  }
  ++in_window_;
  if (held_back_ > 0) {
    log::Warn("log lines held back by the rate limit",
              {{"count", static_cast<unsigned long long>(held_back_)}});
    held_back_ = 0;
  }
  log::Write(level, msg, fields);
}

bool RefusalAggregator::Admit(const std::string& client, const std::string& endpoint,
                              const std::string& reason) {
  auto key = std::make_pair(client, reason);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxKeys) key = {"*", "(more clients and reasons)"};
    it = entries_.find(key);
    if (it == entries_.end()) {
      entries_.emplace(std::move(key), Entry{endpoint, 0});
      return true;  // the first of its kind in this period: written in full
    }
  }
  ++it->second.repeated;
  return false;
}

void RefusalAggregator::Flush(WallTime now, AuditLog& audit) {
  for (const auto& [key, e] : entries_) {
    if (e.repeated == 0) continue;
    audit.Write({{"time", FormatRfc3339Millis(now)},
                 {"endpoint", e.endpoint},
                 {"client", key.first},
                 {"outcome", "unauthenticated"},
                 {"reason", key.second},
                 {"repeated", e.repeated},
                 {"since", FormatRfc3339Millis(period_start_)}});
  }
  entries_.clear();
  period_start_ = now;
}

}  // namespace vaultd::orchestrator::service
