// The second half of loading a policy (policy_load.cc reads, this links): the
// checks across folders, inherit resolution with cycle reports, and the indexes
// evaluation uses. It sees positions, not YAML.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "policy_model.h"

namespace vaultd::orchestrator {

struct SourcePosition {
  int line = 0;
  int column = 0;
};

// Where the reader found each folder's parts (indexes as in Policy::folders).
struct LinkInput {
  std::vector<SourcePosition> names, targets, rooms;
  SourcePosition personal_target;
  struct Inherit {
    size_t folder;         // the folder that inherits
    SourcePosition where;  // the inherit entry
    std::string source;    // the folder name it names
  };
  std::vector<Inherit> inherits;
};

// An error (`error` true) or a lint warning at a position.
using LinkReport = std::function<void(SourcePosition where, std::string message, bool error)>;

// Links `policy` in place; false when it reported an error.
bool LinkPolicy(Policy& policy, const LinkInput& in, const LinkReport& report);

}  // namespace vaultd::orchestrator
