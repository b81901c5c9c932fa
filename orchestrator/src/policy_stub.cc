// Temporary: the API compiles while the loader and evaluator land.
#include <nlohmann/json.hpp>

#include "policy_model.h"

namespace vaultd::orchestrator {
std::string Diagnostic::ToString() const {
  return file + ":" + std::to_string(line) + ": " + (error ? "error: " : "warning: ") + message;
}
LoadResult LoadPolicyString(std::string_view, std::string_view filename, const LoadOptions&) {
  LoadResult r;
  r.diagnostics.push_back({std::string(filename), 0, 0, "policy loader not built yet", true});
  return r;
}
LoadResult LoadPolicyFile(const std::string& path, const LoadOptions& o) { return LoadPolicyString("", path, o); }
std::string PolicyRevision(const Policy& p) { return p.revision; }
const std::string& PolicyFile(const Policy& p) { return p.file; }
MountSet Evaluate(const Policy&, const EvalRequest& r) { MountSet m; m.user = r.user; return m; }
nlohmann::json MountSetToJson(const MountSet&) { return nlohmann::json::object(); }
nlohmann::json DockerRunConfigJson(const MountSet&) { return nlohmann::json::object(); }
}  // namespace vaultd::orchestrator
