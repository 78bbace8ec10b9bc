/* relay-commands.h — `nfltr-relay` subcommands, one function each. argv[0] is the
 * subcommand name. Each returns the process exit status. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int relay_cmd_serve       (int argc, char **argv);
int relay_cmd_keys        (int argc, char **argv);
int relay_cmd_names       (int argc, char **argv);
int relay_cmd_fingerprint (int argc, char **argv);

G_END_DECLS
