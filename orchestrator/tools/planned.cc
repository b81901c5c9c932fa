// vault-orchestrator subcommands not built yet (the orchestrator issue fills them in).
// Every command of the orchestrator issue is built now; new placeholders go here.
#include "commands.h"
