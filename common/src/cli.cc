#include "vaultd/common/cli.h"

#include <algorithm>
#include <cstdio>

namespace vaultd::cli {

bool Args::Parse(const std::vector<std::string>& argv, const std::vector<std::string>& value_flags,
                 const std::vector<std::string>& bool_flags, Args* out, std::string* error) {
  auto contains = [](const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  *out = Args();
  bool flags_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (flags_done || a.size() < 2 || a[0] != '-' || a == "-") {
      out->positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string body = a.substr(a[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_inline = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_inline = true;
    }
    if (contains(bool_flags, name)) {
      if (has_inline) {
        *error = "option --" + name + " takes no value";
        return false;
      }
      out->values_[name].push_back("true");
    } else if (contains(value_flags, name)) {
      if (!has_inline) {
        if (i + 1 >= argv.size()) {
          *error = "option --" + name + " needs a value";
          return false;
        }
        value = argv[++i];
      }
      out->values_[name].push_back(value);
    } else {
      *error = "unknown option " + a;
      return false;
    }
  }
  return true;
}

bool Args::Has(std::string_view flag) const { return values_.find(flag) != values_.end(); }

std::optional<std::string> Args::Get(std::string_view flag) const {
  auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::GetOr(std::string_view flag, std::string fallback) const {
  auto v = Get(flag);
  return v ? *v : fallback;
}

std::vector<std::string> Args::GetAll(std::string_view flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> SplitList(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

void CommandTable::Add(Command command) {
  commands_.push_back(std::move(command));
  std::sort(commands_.begin(), commands_.end(),
            [](const Command& a, const Command& b) { return a.name < b.name; });
}

int CommandTable::Main(int argc, char** argv, std::string_view program,
                       std::string_view description) const {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto print_help = [&](FILE* out) {
    std::fprintf(out, "%.*s — %.*s\n\nUsage: %.*s COMMAND [OPTIONS]\n\nCommands:\n",
                 static_cast<int>(program.size()), program.data(),
                 static_cast<int>(description.size()), description.data(),
                 static_cast<int>(program.size()), program.data());
    for (const Command& c : commands_) {
      std::fprintf(out, "  %-20s %s%s\n", c.name.c_str(), c.summary.c_str(),
                   c.run ? "" : " (not built yet)");
    }
    std::fprintf(out,
                 "\nOptions:\n  --help     show this help (or `%.*s COMMAND --help`)\n"
                 "  --version  print the version\n",
                 static_cast<int>(program.size()), program.data());
  };
  if (args.empty()) {
    print_help(stderr);
    return kExitUsage;
  }
  const std::string& first = args[0];
  if (first == "--help" || first == "-h") {
    print_help(stdout);
    return kExitOk;
  }
  if (first == "--version" || first == "version") {
    std::printf("%.*s %s\n", static_cast<int>(program.size()), program.data(), VAULTD_VERSION);
    return kExitOk;
  }
  std::string name = first;
  bool want_help = false;
  if (first == "help") {
    if (args.size() < 2) {
      print_help(stdout);
      return kExitOk;
    }
    name = args[1];
    want_help = true;
  }
  auto it = std::find_if(commands_.begin(), commands_.end(),
                         [&](const Command& c) { return c.name == name; });
  if (it == commands_.end()) {
    std::fprintf(stderr, "%.*s: unknown command '%s' (see --help)\n",
                 static_cast<int>(program.size()), program.data(), name.c_str());
    return kExitUsage;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (!want_help) {
    want_help = std::find(rest.begin(), rest.end(), "--help") != rest.end() ||
                std::find(rest.begin(), rest.end(), "-h") != rest.end();
  }
  if (want_help) {
    std::printf("Usage: %.*s %s\n\n%s\n", static_cast<int>(program.size()), program.data(),
                it->usage.c_str(), it->summary.c_str());
    if (!it->run) std::printf("\nThis command is not built yet.\n");
    return kExitOk;
  }
  if (!it->run) {
    std::fprintf(stderr, "%.*s %s: not built yet in this version\n",
                 static_cast<int>(program.size()), program.data(), name.c_str());
    return kExitUsage;
  }
  return it->run(rest);
}

}  // namespace vaultd::cli
