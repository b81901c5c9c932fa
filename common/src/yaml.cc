#include "vaultd/common/yaml.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>

#include "vaultd/common/utf8.h"

namespace vaultd::yaml {
namespace {

// Document starts and aliases, from yaml-cpp's event parser (which never expands aliases).
class Scan final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { aliases.push_back(mark); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  std::vector<YAML::Mark> starts, aliases;
};

// Fills {where}, {key}, {allowed} and {first_line} in one pass, so text put in
// (which comes from the file) is never read again as a placeholder.
std::string Fill(std::string_view tmpl,
                 const std::vector<std::pair<std::string_view, std::string>>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    bool replaced = false;
    if (tmpl[i] == '{') {
      for (const auto& [name, value] : values) {
        if (tmpl.substr(i, name.size()) == name) {
          out += value;
          i += name.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out += tmpl[i++];
  }
  return out;
}

// A key that looks like a name (a typo) is quoted up to 40 bytes; any other key
// only by its first few name-like characters: a file that is not what it should
// be (a password file, say) is not repeated back through its error messages.
std::string QuoteKey(const std::string& key) {
  auto name_like = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ' ';
  };
  constexpr size_t kShownName = 40, kShownOther = 8;
  size_t plain = 0;
  while (plain < key.size() && name_like(key[plain])) ++plain;
  if (plain == key.size() && key.size() <= kShownName) return key;
  return key.substr(0,
                    std::min({plain, kShownName, plain == key.size() ? kShownName : kShownOther})) +
         "...";
}

}  // namespace

int LineOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark m = node.Mark();
  return m.is_null() ? 0 : m.line + 1;
}

int ColumnOf(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark m = node.Mark();
  return m.is_null() ? 0 : m.column + 1;
}

Status Problems::FirstAsStatus() const {
  if (list_.empty()) return Status::Ok();
  // The earliest in the file (of two on one line, the one found first), as a reader
  // going top to bottom and stopping at the first problem would report it.
  const Problem& p =
      *std::min_element(list_.begin(), list_.end(), [](const Problem& a, const Problem& b) {
        return (a.line > 0 ? a.line : 1) < (b.line > 0 ? b.line : 1);
      });
  return Status::InvalidArgument(file_ + ":" + std::to_string(p.line > 0 ? p.line : 1) + ": " +
                                 p.message);
}

std::optional<YAML::Node> ParseDocument(std::string_view text, Problems& problems,
                                        DocumentOptions options) {
  try {
    std::string copy(text);
    std::istringstream in(copy);
    YAML::Parser parser(in);
    Scan scan;
    // At most two calls, never a loop: YAML::LoadAll can loop forever on some inputs.
    if (parser.HandleNextDocument(scan)) parser.HandleNextDocument(scan);
    if (scan.starts.size() > 1) {
      problems.AddAt(scan.starts[1].line + 1, scan.starts[1].column + 1,
                     "more than one YAML document");
      return std::nullopt;
    }
    if (scan.aliases.size() > options.max_aliases) {
      const YAML::Mark& m = scan.aliases[options.max_aliases];
      problems.AddAt(
          m.line + 1, m.column + 1,
          options.max_aliases == 0
              ? "YAML alias: aliases (*name) are not allowed here; write the value out"
              : "YAML alias: more than " + std::to_string(options.max_aliases) + " aliases");
      return std::nullopt;
    }
    return YAML::Load(copy);
  } catch (const YAML::Exception& e) {
    problems.AddAt(e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1,
                   "YAML: " + e.msg);
  } catch (const std::exception& e) {
    problems.AddAt(0, 0, std::string("YAML: ") + e.what());
  }
  return std::nullopt;
}

MapSchema NamedMapSchema(std::string where, std::vector<std::string_view> allowed) {
  return MapSchema{
      .allowed = std::move(allowed),
      .where = std::move(where),
      .not_a_mapping = "{where} must be a mapping",
      .key_not_a_string = "{where}: keys must be plain strings",
      .unknown_key = "{where}: unknown key '{key}' (expected {allowed})",
      .duplicate_key = "{where}: duplicate key '{key}'",
  };
}

MapReader::MapReader(const YAML::Node& node, const MapSchema& schema, Problems& problems)
    : problems_(problems), utf8_(schema.utf8) {
  std::string allowed;
  for (std::string_view a : schema.allowed)
    allowed += std::string(allowed.empty() ? "" : ", ") + std::string(a);
  auto fill = [&](const std::string& tmpl, const std::string& key, int first_line) {
    return Fill(tmpl, {{"{where}", schema.where},
                       {"{key}", key},
                       {"{allowed}", allowed},
                       {"{first_line}", std::to_string(first_line)}});
  };
  if (!node.IsMap()) {
    problems_.Add(node, fill(schema.not_a_mapping, "", 0));
    return;
  }
  is_mapping_ = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      problems_.Add(k, fill(schema.key_not_a_string, "", 0));
      continue;
    }
    const std::string& key = k.Scalar();
    if (std::find(schema.allowed.begin(), schema.allowed.end(), key) == schema.allowed.end()) {
      problems_.Add(k, fill(schema.unknown_key, QuoteKey(key), 0));
      continue;
    }
    if (const Entry* first = Find(key)) {
      problems_.Add(k, fill(schema.duplicate_key, key, LineOf(first->key_node)));
      continue;
    }
    entries_.push_back({key, k, it->second});
  }
}

const MapReader::Entry* MapReader::Find(std::string_view key) const {
  for (const Entry& e : entries_)
    if (e.key == key) return &e;
  return nullptr;
}

YAML::Node MapReader::Key(std::string_view key) const {
  const Entry* e = Find(key);
  return e ? e->key_node : YAML::Node(YAML::NodeType::Undefined);
}

YAML::Node MapReader::Value(std::string_view key) const {
  const Entry* e = Find(key);
  return e ? e->value : YAML::Node(YAML::NodeType::Undefined);
}

std::vector<std::string> MapReader::Keys() const {
  std::vector<std::string> keys;
  for (const Entry& e : entries_) keys.push_back(e.key);
  return keys;
}

std::optional<std::string> MapReader::String(std::string_view key, bool allow_empty,
                                             std::string name) {
  const Entry* e = Find(key);
  if (!e) return std::nullopt;
  if (!e->value.IsScalar()) {
    problems_.Add(At(*e), Name(key, name) + " must be a string");
    return std::nullopt;
  }
  if (!allow_empty && e->value.Scalar().empty()) {
    problems_.Add(e->value, Name(key, name) + " must not be empty");
    return std::nullopt;
  }
  if (utf8_ && !IsValidUtf8(e->value.Scalar())) {
    problems_.Add(e->value, Name(key, name) + " is not valid UTF-8");
    return std::nullopt;
  }
  return e->value.Scalar();
}

std::optional<int64_t> MapReader::Int(std::string_view key, int64_t lo, int64_t hi,
                                      std::string name) {
  const Entry* e = Find(key);
  if (!e) return std::nullopt;
  if (!e->value.IsScalar()) {
    problems_.Add(e->value, Name(key, name) + " must be an integer");
    return std::nullopt;
  }
  int64_t v = 0;
  try {
    v = e->value.as<int64_t>();
  } catch (const YAML::Exception&) {
    problems_.Add(e->value,
                  Name(key, name) + " must be an integer, got '" + e->value.Scalar() + "'");
    return std::nullopt;
  }
  if (v < lo || v > hi) {
    problems_.Add(e->value, Name(key, name) + " must be between " + std::to_string(lo) + " and " +
                                std::to_string(hi));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> MapReader::Bool(std::string_view key, std::string name) {
  const Entry* e = Find(key);
  if (!e) return std::nullopt;
  if (e->value.IsScalar() && (e->value.Scalar() == "true" || e->value.Scalar() == "false"))
    return e->value.Scalar() == "true";
  problems_.Add(e->value, Name(key, name) + " must be true or false");
  return std::nullopt;
}

std::optional<WallTime> MapReader::Time(std::string_view key, std::string name) {
  std::optional<std::string> s = String(key, /*allow_empty=*/true, name);
  if (!s) return std::nullopt;
  Result<WallTime> t = ParseRfc3339(*s);
  if (!t.ok()) {
    problems_.Add(Find(key)->value, Name(key, name) + ": " + t.status().message());
    return std::nullopt;
  }
  return *t;
}

std::optional<size_t> MapReader::OneOf(std::string_view key,
                                       const std::vector<std::string_view>& values,
                                       std::string name, std::string_view noun) {
  std::optional<std::string> s = String(key, /*allow_empty=*/true, name);
  if (!s) return std::nullopt;
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i] == *s) return i;
  std::string expected;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) expected += i + 1 == values.size() ? " or " : ", ";
    expected += values[i];
  }
  problems_.Add(Find(key)->value, Name(key, name) + ": unknown " + std::string(noun) + " '" + *s +
                                      "' (expected " + expected + ")");
  return std::nullopt;
}

bool MapReader::Strings(
    std::string_view key, const ListRules& rules, std::string name,
    const std::function<void(const YAML::Node& item, const std::string& value)>& each) {
  const Entry* e = Find(key);
  if (!e || (rules.null_is_empty && e->value.IsNull())) return true;
  if (!e->value.IsSequence()) {
    problems_.Add(At(*e), Name(key, name) + " must be a list of " + rules.of);
    return false;
  }
  bool ok = true;
  size_t i = 0;
  for (const YAML::Node& item : e->value) {
    if (!item.IsScalar() || (!rules.empty_items && item.Scalar().empty()) ||
        (utf8_ && !IsValidUtf8(item.Scalar()))) {
      problems_.Add(item, Name(key, name) + "[" + std::to_string(i) + "] must be " + rules.item);
      ok = false;
    } else {
      each(item, item.Scalar());
    }
    ++i;
  }
  return ok;
}

std::optional<std::vector<std::string>> MapReader::StringList(std::string_view key,
                                                              std::string name) {
  if (!Has(key)) return std::nullopt;
  std::vector<std::string> out;
  if (!Strings(key, {}, std::move(name),
               [&](const YAML::Node&, const std::string& value) { out.push_back(value); }))
    return std::nullopt;
  return out;
}

}  // namespace vaultd::yaml
