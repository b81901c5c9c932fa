// The fault-injection seam (VAULTD_MOVE_CRASH_AT) and the unit tests' step hook.
#include <signal.h>

#include <cstdio>

#include "internal.h"

namespace vaultd::move::internal {

namespace {
StepHook g_step_hook = nullptr;
void* g_step_hook_ctx = nullptr;
}  // namespace

void SetStepHookForTesting(StepHook hook, void* ctx) {
  g_step_hook = hook;
  g_step_hook_ctx = ctx;
}

void CrashSeam::Init() {
  step = 0;
  crash_step = 0;
  crash_name[0] = '\0';
  const char* v = getenv("VAULTD_MOVE_CRASH_AT");
  if (!v || !*v) return;
  char* end = nullptr;
  long n = strtol(v, &end, 10);
  if (end && *end == '\0' && n > 0) {
    crash_step = n;
  } else {
    snprintf(crash_name, sizeof crash_name, "%s", v);
  }
}

void CrashSeam::Step(const char* name) {
  int now = step.fetch_add(1) + 1;
  if ((crash_step > 0 && now == crash_step) ||
      (crash_name[0] != '\0' && strcmp(crash_name, name) == 0)) {
    raise(SIGKILL);
  }
  if (g_step_hook) g_step_hook(name, g_step_hook_ctx);
}

}  // namespace vaultd::move::internal
