/* cli-secret-link.h — the commands whose page sits behind a secret link (terminal, ai, tail,
 * watch): --token and --basic-auth on top of the generic tunnel options
 * (cli_tunnel_options_parse_full), and the link the CLI prints. */
#pragma once

#include "cli-commands.h"

G_BEGIN_DECLS

/* Two GOptionEntry rows for a command's table; both point at char * the command frees. */
/* clang-format off */
#define CLI_SECRET_LINK_OPTION_ENTRIES(token, basic_auth)                                         \
  { "token", 0, 0, G_OPTION_ARG_STRING, (token),                                                  \
    N_ ("The secret in the link (default: a random one)"), "TOKEN" },                             \
  { "basic-auth", 0, 0, G_OPTION_ARG_STRING, (basic_auth),                                        \
    N_ ("Ask for this user and password as well"), "USER:PASSWORD" }
/* clang-format on */

/* Puts the link's token (a new random one when *token is NULL) and basic_auth into
 * kind_options, ends kind_options into options->kind_options, and makes the printed URL the
 * secret link. */
void cli_secret_link_finish (CliTunnelOptions *options, GVariantDict *kind_options, char **token, const char *basic_auth);

/* A command line cli_tunnel_options_parse_full refused: says why (and, for an option error, where
 * --help is). Returns CLI_EXIT_USAGE. */
int cli_usage_error (const char *command, const GError *error);

G_END_DECLS
