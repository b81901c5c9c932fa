// ydoc subcommands not built yet (none left: every command has its own file).
#include "ydoc_commands.h"
