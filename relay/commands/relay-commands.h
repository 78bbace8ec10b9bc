/* relay-commands.h — `nfltr-relay` subcommands, one function each. argv[0] is the
 * subcommand name. Each returns the process exit status. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int relay_cmd_serve       (int argc, char **argv);
int relay_cmd_keys        (int argc, char **argv);
int relay_cmd_names       (int argc, char **argv);
int relay_cmd_fingerprint (int argc, char **argv);
int relay_cmd_tokens      (int argc, char **argv);
int relay_cmd_agents      (int argc, char **argv);
int relay_cmd_admin       (int argc, char **argv);
int relay_cmd_certs       (int argc, char **argv);
/* relay/proof/relay-cmd-signing-key.c */
int relay_cmd_signing_key (int argc, char **argv);

/* Parses a subcommand's options into entries; FALSE after telling the user why (the
 * caller exits with status 2). */
gboolean relay_cmd_parse_options (const char *command, const char *parameter_string,
                                  const GOptionEntry *entries, int *argc, char ***argv);
/* Fills in --data-dir's default when the user gave none. */
void relay_cmd_default_data_dir (char **data_dir);

G_END_DECLS
