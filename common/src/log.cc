#include "vaultd/common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "vaultd/common/clock.h"

namespace vaultd::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
Sink& SinkRef() {
  static Sink* sink = new Sink();  // never destroyed: logging may run during exit
  return *sink;
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void AppendValue(std::string& out, std::string_view v) {
  if (!NeedsQuotes(v)) {
    out += v;
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  value = buf;
}

bool ParseLevel(std::string_view text, Level* out) {
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"debug", Level::kDebug},  {"info", Level::kInfo},   {"warn", Level::kWarn},
      {"warning", Level::kWarn}, {"error", Level::kError}, {"off", Level::kOff}};
  for (const auto& [name, level] : kNames) {
    if (text == name) {
      *out = level;
      return true;
    }
  }
  return false;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "?";
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }
Level GetLevel() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

std::string FormatLine(Level level, std::string_view msg, std::initializer_list<Field> fields,
                       std::string_view timestamp) {
  std::string out;
  out.reserve(64 + msg.size());
  out += timestamp;
  out += " level=";
  out += LevelName(level);
  out += " msg=";
  AppendValue(out, msg);
  for (const Field& f : fields) {
    out += ' ';
    out += f.key;
    out += '=';
    AppendValue(out, f.value);
  }
  return out;
}

void SetSink(Sink sink) {
  std::lock_guard<std::mutex> lock(g_mu);
  SinkRef() = std::move(sink);
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  std::string line = FormatLine(level, msg, fields, FormatRfc3339Millis(RealClock().Now()));
  std::lock_guard<std::mutex> lock(g_mu);
  if (SinkRef()) {
    SinkRef()(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace vaultd::log
