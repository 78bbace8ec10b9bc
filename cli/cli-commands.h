/* cli-commands.h — one function per command (one file per command), and what they share */
#pragma once

#include <gio/gio.h>
#include <stdio.h>

G_BEGIN_DECLS

typedef int (*CliCommandFunc) (int argc, char **argv);

typedef struct
{
  const char     *name;
  CliCommandFunc  func;
  const char     *usage;    /* arguments after the command name */
  const char     *summary;
} CliCommand;

/* cmd-login.c */
int cli_cmd_login  (int argc, char **argv);
int cli_cmd_logout (int argc, char **argv);
/* cmd-tunnel.c */
int cli_cmd_http   (int argc, char **argv);
int cli_cmd_tcp    (int argc, char **argv);
/* `nfltr KIND TARGET` for a kind without a command of its own: FALSE (nothing done, nothing
 * printed) when the service cannot be reached or does not list argv[0] in Manager.Kinds;
 * else runs the tunnel and sets *exit_status. */
gboolean cli_cmd_kind  (int argc, char **argv, int *exit_status);
/* The service's Manager.Kinds, for `nfltr help` (asks the service, starting it if needed). */
void     cli_print_kinds (FILE *out);
/* cmd-list.c */
int cli_cmd_list   (int argc, char **argv);
/* cmd-status.c */
int cli_cmd_status (int argc, char **argv);
/* cmd-manage.c */
int cli_cmd_stop  (int argc, char **argv);
int cli_cmd_start (int argc, char **argv);
int cli_cmd_rm    (int argc, char **argv);
/* cmd-release.c */
int cli_cmd_release (int argc, char **argv);

/* cmd-p2p.c */
int cli_cmd_p2p (int argc, char **argv);

/* nfltr.c: the command table, NULL-terminated by name. */
extern const CliCommand cli_commands[];

/* cli-args.c: sets up a context for "nfltr <command> <parameters>", parses argv (argv[0] is the command
 * name) and checks the number of positional arguments left in argv[1..]. On a usage error
 * prints "nfltr: <message>" and a hint, and returns FALSE (exit 2). */
gboolean cli_parse_command_line (GOptionContext *context,
                                 const char     *command,
                                 int            *argc,
                                 char         ***argv,
                                 int             min_args,
                                 int             max_args,
                                 const char     *missing_hint);

/* A tunnel command's options, parsed and checked (cmd-tunnel.c); exposed for unit tests. */
typedef struct
{
  char     *kind;       /* a kind id from Manager.Kinds: "http", "tcp", … */
  char     *target;     /* as given: PORT | HOST:PORT for http and tcp */
  char     *name;       /* NULL: the service picks one */
  gboolean  e2ee;       /* default TRUE */
  char     *cert_file;  /* absolute, or NULL */
  char     *key_file;   /* absolute, or NULL */
  gboolean  json;
  char     *alpn;       /* tcp --alpn: "h2,http/1.1", or NULL */
  char     *origin_h2;  /* http --origin-h2: "auto", "yes", "no", or NULL */
  gboolean  origin_tls; /* http --origin-tls */
} CliTunnelOptions;

/* argv[0] is the command name. Errors are usage errors (exit 2); the message is what the user
 * reads after "nfltr: ". */
gboolean  cli_tunnel_options_parse      (const char        *kind,
                                         int                argc,
                                         char             **argv,
                                         CliTunnelOptions  *options,
                                         GError           **error);
void      cli_tunnel_options_clear      (CliTunnelOptions  *options);
/* The a{sv} for Manager.CreateTunnel, transient. */
GVariant *cli_tunnel_options_to_variant (const CliTunnelOptions *options);

G_END_DECLS
