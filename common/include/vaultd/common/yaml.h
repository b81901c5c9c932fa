// A strict reader for the project's YAML files, on top of yaml-cpp: one
// document, aliases refused (a few bytes of `*a` can stand for gigabytes),
// and mappings read against a schema — the keys they may hold, each at most
// once — with typed field readers. Every problem is "file:line: message".
//
//   yaml::Problems problems("AUTH.yaml");
//   auto root = yaml::ParseDocument(text, problems);
//   yaml::MapReader map(*root, kAuthSchema, problems);
//   auto issuer = map.String("issuer");                  // "'issuer' must be a string"
//   auto leeway = map.Int("leeway_seconds", 0, 600);     // "... must be between 0 and 600"
//   auto mode = map.Enum<Mode>("mode", {{"ro", Mode::kRo}, {"rw", Mode::kRw}});
//   if (!problems.empty()) return problems.FirstAsStatus();
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vaultd/common/clock.h"
#include "vaultd/common/status.h"

namespace vaultd::yaml {

// 1-based line and column of a node; 0 when yaml-cpp does not know.
int LineOf(const YAML::Node& node);
int ColumnOf(const YAML::Node& node);

struct Problem {
  int line = 0;
  int column = 0;
  std::string message;
};

// The problems found in one file, in the order found.
class Problems {
 public:
  using Sink = std::function<void(Problem)>;
  explicit Problems(std::string file) : file_(std::move(file)) {}
  // Each problem goes to `sink` as it is found and is not kept: for a format that keeps
  // its own findings (warnings among them, in the order found).
  Problems(std::string file, Sink sink) : file_(std::move(file)), sink_(std::move(sink)) {}
  void Add(const YAML::Node& at, std::string message) {
    AddAt(LineOf(at), ColumnOf(at), std::move(message));
  }
  void AddAt(int line, int column, std::string message) {
    ++count_;
    if (sink_) {
      sink_({line, column, std::move(message)});
    } else {
      list_.push_back({line, column, std::move(message)});
    }
  }
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  // The problems kept (none when they went to a sink).
  const std::vector<Problem>& list() const { return list_; }
  const std::string& file() const { return file_; }
  // "file:line: message" of the earliest problem in the file (line 1 when unknown), as
  // InvalidArgument: what a format that stops at its first problem reports.
  Status FirstAsStatus() const;

 private:
  std::string file_;
  Sink sink_;
  size_t count_ = 0;
  std::vector<Problem> list_;
};

struct DocumentOptions {
  size_t max_aliases = 0;  // 0: any alias is a problem
};

// Exactly one document; a syntax error, a second document or too many aliases
// is a problem and gives nullopt. An empty text gives a null node.
std::optional<YAML::Node> ParseDocument(std::string_view text, Problems& problems,
                                        DocumentOptions options = {});

// How a format names its mappings' problems. Filled in: {where} (the mapping's
// name in messages, `where`), {key} (an unknown key is quoted only in part when it
// does not look like a name), {allowed} (comma-separated) and {first_line} (of a
// duplicate key's first occurrence).
struct MapSchema {
  std::vector<std::string_view> allowed = {};
  std::string where = {};
  std::string not_a_mapping = "must be a mapping";
  std::string key_not_a_string = "keys must be strings";
  std::string unknown_key = "unknown key '{key}' (expected {allowed})";
  std::string duplicate_key = "duplicate key '{key}'";
  // Every string read (String, Time, Enum, list items) must be valid UTF-8: yaml-cpp
  // passes any bytes through. "<name> is not valid UTF-8".
  bool utf8 = false;
};

// How a list of strings is read and named in messages.
struct ListRules {
  std::string of = "strings";     // not a list: "<name> must be a list of <of>"
  std::string item = "a string";  // a wrong item: "<name>[i] must be <item>"
  bool empty_items = true;        // "" is an item
  bool null_is_empty = false;     // `key:` with nothing is an empty list
};

// The wording that names the mapping in every message: "<where> must be a mapping",
// "<where>: keys must be plain strings", "<where>: unknown key 'k' (expected <allowed>)",
// "<where>: duplicate key 'k'". A format may change any of them afterwards.
MapSchema NamedMapSchema(std::string where, std::vector<std::string_view> allowed);

// One mapping, checked against its schema on construction (every problem
// reported); then its fields, one typed read each. A field reader gives nullopt
// when the key is absent or its value is wrong; it reports a wrong value as
// "<name> must be ..." where name defaults to "'<key>'", at the key when the
// value is empty (`key:`) and at the value otherwise.
class MapReader {
 public:
  MapReader(const YAML::Node& node, const MapSchema& schema, Problems& problems);
  bool is_mapping() const { return is_mapping_; }
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // The key and value nodes (undefined nodes when absent).
  YAML::Node Key(std::string_view key) const;
  YAML::Node Value(std::string_view key) const;
  // Keys in file order (allowed, first occurrences only).
  std::vector<std::string> Keys() const;

  std::optional<std::string> String(std::string_view key, bool allow_empty = false,
                                    std::string name = "");
  std::optional<int64_t> Int(std::string_view key, int64_t lo, int64_t hi, std::string name = "");
  std::optional<bool> Bool(std::string_view key, std::string name = "");
  // A string (empty allowed) holding an RFC 3339 time: "<name>: bad RFC 3339 time ...".
  std::optional<WallTime> Time(std::string_view key, std::string name = "");
  // One of a fixed set of strings: "<name>: unknown <noun> 'x' (expected a, b or c)".
  template <typename E>
  std::optional<E> Enum(std::string_view key,
                        std::initializer_list<std::pair<std::string_view, E>> values,
                        std::string name = "", std::string_view noun = "value") {
    std::vector<std::string_view> names;
    for (const auto& v : values) names.push_back(v.first);
    std::optional<size_t> i = OneOf(key, names, std::move(name), noun);
    if (!i) return std::nullopt;
    return (values.begin() + *i)->second;
  }
  // Every item of a list, in order: a right one to `each`, a wrong one reported in
  // its place. False when the value is not a list or an item was wrong.
  bool Strings(std::string_view key, const ListRules& rules, std::string name,
               const std::function<void(const YAML::Node& item, const std::string& value)>& each);
  // The whole list, or nullopt when it or an item is wrong.
  std::optional<std::vector<std::string>> StringList(std::string_view key, std::string name = "");

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node, value;
  };
  const Entry* Find(std::string_view key) const;
  std::optional<size_t> OneOf(std::string_view key, const std::vector<std::string_view>& values,
                              std::string name, std::string_view noun);
  // The node a wrong value is reported at.
  static const YAML::Node& At(const Entry& e) { return e.value.IsNull() ? e.key_node : e.value; }
  std::string Name(std::string_view key, const std::string& name) const {
    return name.empty() ? "'" + std::string(key) + "'" : name;
  }
  Problems& problems_;
  bool utf8_ = false;
  bool is_mapping_ = false;
  std::vector<Entry> entries_;
};

}  // namespace vaultd::yaml
