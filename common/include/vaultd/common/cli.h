// Command-line plumbing shared by every binary.
//
// Subcommands register themselves in their program's table (one file per
// command, no central switch):
//
//   static vaultd::cli::Registrar reg(Commands(), {
//       .name = "eval", .summary = "evaluate a policy for one user",
//       .usage = "eval --policy P --user U --groups g1,g2 [--at T]", .run = &RunEval});
//
// Exit codes shared by all binaries: 0 success, 1 the command ran and found a
// failure (invalid policy, failed test case, ...), 2 usage error or a command
// that is not built yet.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vaultd::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Parsed arguments: `--flag value`, `--flag=value`, repeated flags, boolean
// switches, `--` ends flags, everything else is positional.
class Args {
 public:
  // `bool_flags` take no value ("explain", "json"). Unknown flags are errors
  // unless listed in `value_flags` or `bool_flags`. Returns false and sets
  // *error on a bad command line.
  static bool Parse(const std::vector<std::string>& argv,
                    const std::vector<std::string>& value_flags,
                    const std::vector<std::string>& bool_flags, Args* out, std::string* error);

  bool Has(std::string_view flag) const;
  // The last value given for a flag, if any.
  std::optional<std::string> Get(std::string_view flag) const;
  std::string GetOr(std::string_view flag, std::string fallback) const;
  // Every value given for a repeated flag, in order.
  std::vector<std::string> GetAll(std::string_view flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// Splits "a,b,,c" into {"a","b","c"} (empty parts dropped, spaces trimmed).
std::vector<std::string> SplitList(std::string_view text, char sep = ',');

struct Command {
  std::string name;
  std::string summary;  // one line, shown in the program's --help
  std::string usage;    // full help text for `PROGRAM CMD --help`
  // Receives the arguments after the command name. nullptr = not built yet.
  int (*run)(const std::vector<std::string>& args) = nullptr;
};

class CommandTable {
 public:
  void Add(Command command);
  // Handles --help, --version, `help CMD`, `CMD --help`, unknown commands.
  int Main(int argc, char** argv, std::string_view program, std::string_view description) const;
  const std::vector<Command>& commands() const { return commands_; }

 private:
  std::vector<Command> commands_;
};

struct Registrar {
  Registrar(CommandTable& table, Command command) { table.Add(std::move(command)); }
};

}  // namespace vaultd::cli
