/* cli-web-auth.h — the options every HTTPS app command shares for letting visitors in:
 * --basic-auth USER:PASSWORD and --token[=TOKEN] (the web layer, service/kinds/web, checks
 * them), and the size syntax of their limits. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean cli_web_token_option_cb (const char *option_name, const char *value, gpointer data, GError **error);

/* Two GOptionEntry rows for a command's table; BASIC_AUTH is a char ** the command frees. */
/* clang-format off */
#define CLI_WEB_AUTH_OPTION_ENTRIES(basic_auth)                                                   \
  { "basic-auth", 0, 0, G_OPTION_ARG_STRING, (basic_auth),                                        \
    N_ ("Ask visitors for this user name and password"), "USER:PASSWORD" },                       \
  { "token", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK,                                \
    (gpointer) cli_web_token_option_cb,                                                            \
    N_ ("Let in only links that carry this token (?token=…); without a value a random one is made"), \
    "TOKEN" }
/* clang-format on */

/* Puts --basic-auth and --token (if given) into a web app kind's options; *token_out gets the
 * token (made here when --token had no value). Forgets the parsed --token either way. */
gboolean cli_web_auth_options (const char *basic_auth, GVariantDict *dict, char **token_out, GError **error);

/* Tells the user the token before the URL is known (stderr), if there is one. */
void cli_web_auth_announce (const char *token);

/* "1048576", "100K", "20M", "2G" (IEC: K is 1024) into bytes; FALSE if not a size. */
gboolean cli_parse_size (const char *text, guint64 *bytes);

G_END_DECLS
