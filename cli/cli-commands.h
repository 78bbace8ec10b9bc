/* cli-commands.h — one function per command (one file per command), and what they share */
#pragma once

#include <gio/gio.h>
#include <stdio.h>

#include "nfltr-dbus.h"

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
/* cmd-serve.c */
int cli_cmd_serve   (int argc, char **argv);
/* cmd-command.c */
int cli_cmd_command (int argc, char **argv);
/* cmd-share.c */
int cli_cmd_share   (int argc, char **argv);
/* Runs a tunnel as `nfltr KIND` does (argv as cli_tunnel_options_parse takes it); ready_hook
 * (optional) is called once it is online, after the ready line or event, to say more. */
typedef void (*CliTunnelReadyHook) (NfltrDbusTunnel *tunnel, gboolean json, gpointer data);
int      cli_run_tunnel  (const char        *kind,
                          int                argc,
                          char             **argv,
                          CliTunnelReadyHook ready_hook,
                          gpointer           ready_data);
/* cmd-shell.c */
int cli_cmd_shell (int argc, char **argv);
/* cmd-ssh.c */
int cli_cmd_ssh   (int argc, char **argv);
/* cmd-list.c */
int cli_cmd_list   (int argc, char **argv);
/* cmd-status.c */
int cli_cmd_status (int argc, char **argv);
/* cmd-manage.c */
int cli_cmd_stop  (int argc, char **argv);
int cli_cmd_start (int argc, char **argv);
int cli_cmd_rm    (int argc, char **argv);
/* cmd-connect.c */
int cli_cmd_connect (int argc, char **argv);
/* cmd-release.c */
int cli_cmd_release (int argc, char **argv);
/* cmd-wg.c: `nfltr wg serve|socks5|status|export|leave` */
int cli_cmd_wg (int argc, char **argv);
/* cmd-proof.c (issue 11) */
int cli_cmd_proof  (int argc, char **argv);
int cli_cmd_verify (int argc, char **argv);

/* cmd-p2p.c */
int cli_cmd_p2p (int argc, char **argv);
/* cmd-a2a.c, cmd-audit.c (issue 15) */
int cli_cmd_a2a   (int argc, char **argv);
int cli_cmd_audit (int argc, char **argv);

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
  char    **allow_cidr; /* --allow-cidr (each may list several), or NULL */
  char    **deny_cidr;  /* --deny-cidr */
  char     *basic_auth; /* http --basic-auth USER:PASSWORD (or $NFLTR_BASIC_AUTH) */
  char     *client_ca;  /* --client-ca FILE, absolute */
  char     *inspect_addr;   /* http --inspect ADDR: the inspector's web page, or NULL (issue 9 §8) */
  guint64   inspect_bodies; /* http --inspect-bodies[=SIZE]: bytes of each body kept, 0: none */
  GVariant *kind_options; /* a{sv} a command in its own file adds (serve --upload, …), or NULL */
  GVariant *acme_options; /* issue 11: a{sv} of --acme-* (cli-acme-options.c), or NULL */
  GCancellable *stop;   /* cancelled (on the main thread): remove the tunnel and exit 0;
                         * its object data "message" (a string), if set, replaces stop_message */
  char     *stop_message; /* what the user reads then (also the JSON "finished" state's error) */
  char     *url_suffix; /* appended to the public URL the user is shown ("/SECRET"), or NULL */
  char     *viewer_suffix; /* terminal --viewer: the read-only link's suffix ("/?token=…"),
                            * shown as "Viewer URL:" and the ready event's "viewer_url" */
  /* called once the tunnel is online, after the ready line or event, to say more (nfltr
   * shell's ssh command lines), or NULL */
  CliTunnelReadyHook ready_hook;
  gpointer  ready_data;
} CliTunnelOptions;

/* argv[0] is the command name. Errors are usage errors (exit 2); the message is what the user
 * reads after "nfltr: ". */
gboolean  cli_tunnel_options_parse      (const char        *kind,
                                         int                argc,
                                         char             **argv,
                                         CliTunnelOptions  *options,
                                         GError           **error);
void      cli_tunnel_options_clear      (CliTunnelOptions  *options);
/* For commands in their own files (cmd-serve.c, cmd-share.c, cmd-command.c): the generic
 * options (--name, --e2ee, --e2ee-cert/--e2ee-key, --json) with the command's extra
 * entries, parameter/summary/description for --help, between min_args and max_args (-1: any)
 * positional arguments, given back in *positional. */
gboolean  cli_tunnel_options_parse_full (const char          *kind,
                                         int                  argc,
                                         char               **argv,
                                         const GOptionEntry  *extra,
                                         const char          *parameter,
                                         const char          *summary,
                                         const char          *description,
                                         int                  min_args,
                                         int                  max_args,
                                         CliTunnelOptions    *options,
                                         GStrv               *positional,
                                         GError             **error);
typedef struct _CliClient CliClient;
/* Creates the transient tunnel, follows it (human lines or --json events, as nfltr http),
 * removes it on Ctrl-C or when options->stop is cancelled. Takes options' contents;
 * client (taken) may be NULL. Returns the exit status. */
int       cli_tunnel_run                (CliTunnelOptions  *options,
                                         CliClient         *client);
/* The a{sv} for Manager.CreateTunnel, transient. */
GVariant *cli_tunnel_options_to_variant (const CliTunnelOptions *options);
/* cmd-terminal.c */
int cli_cmd_terminal (int argc, char **argv);
/* A link's secret: 128 bits from the CSPRNG, base64url. */
char *cli_new_token     (void);
/* Splits argv at its first "--" (argv[0] the command): *command gets what follows (NULL when
 * there is no "--"), *argc ends before it. */
void  cli_split_command (int *argc, char **argv, char ***command);
int cli_cmd_ai       (int argc, char **argv);
/* cmd-tail.c */
int cli_cmd_tail     (int argc, char **argv);
/* cmd-watch.c */
int cli_cmd_watch    (int argc, char **argv);

G_END_DECLS
