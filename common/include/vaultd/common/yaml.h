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
//   if (!problems.empty()) return problems.FirstAsStatus();
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void Add(const YAML::Node& at, std::string message) {
    AddAt(LineOf(at), ColumnOf(at), std::move(message));
  }
  void AddAt(int line, int column, std::string message) {
    list_.push_back({line, column, std::move(message)});
  }
  bool empty() const { return list_.empty(); }
  const std::vector<Problem>& list() const { return list_; }
  const std::string& file() const { return file_; }
  // "file:line: message" of the earliest problem in the file (line 1 when unknown), as
  // InvalidArgument: what a format that stops at its first problem reports.
  Status FirstAsStatus() const;

 private:
  std::string file_;
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
};

// The wording that names the mapping in every message: "<where> must be a mapping",
// "<where>: keys must be plain strings", "<where>: unknown key 'k' (expected <allowed>)",
// "<where>: duplicate key 'k'". A format may change any of them afterwards.
MapSchema NamedMapSchema(std::string where, std::vector<std::string_view> allowed);

// One mapping, checked against its schema on construction (every problem
// reported); then its fields, one typed read each. A field reader reports a
// wrong type as "<name> must be ..." where name defaults to "'<key>'".
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
  std::optional<WallTime> Time(std::string_view key, std::string name = "");
  std::optional<std::vector<std::string>> StringList(std::string_view key, std::string name = "");

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node, value;
  };
  const Entry* Find(std::string_view key) const;
  std::string Name(std::string_view key, const std::string& name) const {
    return name.empty() ? "'" + std::string(key) + "'" : name;
  }
  Problems& problems_;
  bool is_mapping_ = false;
  std::vector<Entry> entries_;
};

}  // namespace vaultd::yaml
