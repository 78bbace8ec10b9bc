/* cli-args.h — checks of the command line that can fail, done before the service is called.
 *
 * Every failure here is a usage error (exit 2, nothing was attempted); the caller prints the
 * message as "nfltr: <message>". */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* "true"/"false" (also yes/no, on/off, 1/0), case-insensitive. NULL (a bare "--e2ee")
 * means TRUE. option names the flag in the error ("--e2ee takes true or false, not “x”"). */
gboolean cli_parse_bool          (const char  *option,
                                  const char  *text,
                                  gboolean    *value,
                                  GError     **error);

/* A tunnel name is one DNS label: 1–63 of [a-z0-9-], not starting or ending with '-'. */
gboolean cli_check_name          (const char  *name,
                                  GError     **error);

/* PORT or HOST:PORT of the local service; the error names the bad part
 * ("port 70000 is out of range 1–65535"). */
gboolean cli_check_target        (const char  *target,
                                  GError     **error);

/* RELAY as HOST[:PORT] (default port 8443), returned as "HOST:PORT" (IPv6 in brackets). */
char    *cli_normalize_relay     (const char  *relay,
                                  GError     **error);

/* --fingerprint: "sha256:<hex>", bare hex or colon-separated hex (as openssl prints), returned
 * as "sha256:<64 lower-case hex>". */
char    *cli_normalize_fingerprint (const char *text,
                                    GError    **error);

/* --e2ee-cert / --e2ee-key: both or neither; when both, each is made absolute (the service
 * runs in another directory) and the pair is checked (readable, PEM, key matches cert). */
gboolean cli_check_cert_pair     (const char  *cert_file,
                                  const char  *key_file,
                                  char       **abs_cert_file,
                                  char       **abs_key_file,
                                  GError     **error);

/* The commands without arguments whose one option is --json (list, status): parses argv
 * (argv[0] is the command name) with summary as the --help text. On a usage error prints it
 * as cli_parse_command_line() does and returns FALSE (exit 2). */
gboolean cli_parse_json_flag     (const char   *command,
                                  const char   *summary,
                                  const char   *json_help,
                                  int          *argc,
                                  char       ***argv,
                                  gboolean     *json);

/* The known command closest to word (edit distance ≤ 2), or NULL. */
const char *cli_suggest_command  (const char         *word,
                                  const char * const *commands);

G_END_DECLS
