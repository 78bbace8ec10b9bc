/* cmd-tunnel.c — `nfltr http`, `nfltr tcp` and `nfltr KIND TARGET` for any other kind the
 * service lists in Manager.Kinds: create a transient tunnel, follow it, remove it on Ctrl-C */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-acme-options.h"  /* issue 11: --acme-* */
#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "cli-status-panel.h" /* issue 9 §9 */
#include "nfltr-cidr.h"

#include "nfltr-error.h"
#include "nfltr-service-locator.h"
#ifdef NFLTR_HAVE_ENGINE
#include "nfltr-tunnel-kind.h"
#endif

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* docs/cli.md: live counters are shown at most once a second. */
#define STATS_INTERVAL_US G_USEC_PER_SEC

/* ---- options ----------------------------------------------------------------------------- */

/* The kinds with a command of their own: their help text and a check of the target before
 * the service is asked. Any other kind the service offers runs through the generic path,
 * where the service alone checks the target. */
typedef struct {
  const char *kind;
  const char *label;
  const char *examples;
} CliTunnelCommand;

static const CliTunnelCommand tunnel_commands[] = {
  { "http", "HTTP",
    /* TRANSLATORS: translate “Examples:” and the text in parentheses only; the commands are
     * typed as they are. */
    N_ ("Examples:\n"
        "  nfltr http 3000\n"
        "  nfltr http localhost:8080 --name myapp\n"
        "  nfltr http 3000 --e2ee-cert server.crt --e2ee-key server.key\n"
        "  nfltr http 3000 --e2ee=false      (inspectable: for debugging only)\n") },
  { "tcp", "TCP",
    /* TRANSLATORS: translate “Examples:” only; the commands are typed as they are. */
    N_ ("Examples:\n"
        "  nfltr tcp 5432 --name db\n"
        "  nfltr tcp 10.0.0.5:22 --json\n") },
};

static const CliTunnelCommand *
find_tunnel_command (const char *kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (tunnel_commands); i++)
    if (g_str_equal (tunnel_commands[i].kind, kind))
      return &tunnel_commands[i];
  return NULL;
}

static gboolean
e2ee_option_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  CliTunnelOptions *options = data;

  /* "--e2ee" alone is true; GOption also hands us "--e2ee false" as a value. */
  return cli_parse_bool ("--e2ee", value, &options->e2ee, error);
}

static gboolean
origin_h2_option_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  CliTunnelOptions *options = data;
  gboolean yes;

  /* "--origin-h2" alone is yes; "auto" lets the service probe the server (the default). */
  g_clear_pointer (&options->origin_h2, g_free);
  if (value != NULL && g_ascii_strcasecmp (value, "auto") == 0)
    {
      options->origin_h2 = g_strdup ("auto");
      return TRUE;
    }
  if (!cli_parse_bool ("--origin-h2", value, &yes, error))
    return FALSE;
  options->origin_h2 = g_strdup (yes ? "yes" : "no");
  return TRUE;
}

/* issue 9 §8: --inspect-bodies[=SIZE]; SIZE in bytes, or with K or M (IEC). */
static gboolean
inspect_bodies_option_cb (const char *option_name, const char *value, gpointer data, GError **error)
{
  CliTunnelOptions *options = data;

  return cli_parse_inspect_bodies (value, &options->inspect_bodies, error);
}

/* --allow-cidr / --deny-cidr: checked here so that a typo is a usage error naming the range. */
static gboolean
check_cidr (const char *option, char **entries, GError **error)
{
  g_autoptr (NfltrCidrList) list = NULL;

  if (entries == NULL)
    return TRUE;
  list = nfltr_cidr_list_parse ((const char * const *) entries, error);
  if (list == NULL)
    g_prefix_error (error, "%s: ", option);
  return list != NULL;
}

/* The options every tunnel command has (http, tcp and the commands in their own files). */
typedef struct {
  char  *name;
  char  *cert_file;
  char  *key_file;
  char **allow_cidr;
  char **deny_cidr;
  char  *client_ca;
  gboolean json;
} GenericArgs;

#define GENERIC_ENTRIES 10

static void generic_args_clear (GenericArgs *g);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GenericArgs, generic_args_clear)

static void
generic_entries (GenericArgs *g, GOptionEntry out[GENERIC_ENTRIES])
{
  const GOptionEntry entries[GENERIC_ENTRIES] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &g->name,
      /* TRANSLATORS: NAME is the option's argument, as --help shows it (“--name=NAME”) */
      N_ ("Public name: the URL is https://NAME.<relay domain> (default: random)"), "NAME" },
    { "e2ee", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, e2ee_option_cb,
      N_ ("End-to-end encryption (default true); --e2ee=false lets the relay read the traffic"),
      "true|false" },
    { "e2ee-cert", 0, 0, G_OPTION_ARG_FILENAME, &g->cert_file,
      N_ ("PEM certificate to present instead of the generated one (needs --e2ee-key)"), "FILE" },
    { "e2ee-key", 0, 0, G_OPTION_ARG_FILENAME, &g->key_file, N_ ("PEM private key of --e2ee-cert"), "FILE" },
    { "allow-cidr", 0, 0, G_OPTION_ARG_STRING_ARRAY, &g->allow_cidr,
      N_ ("Only visitors from these address ranges get through, e.g. 192.0.2.0/24,2001:db8::/32 "
          "(repeatable)"),
      "LIST" },
    { "client-ca", 0, 0, G_OPTION_ARG_FILENAME, &g->client_ca,
      N_ ("Visitors must present a TLS client certificate issued by a CA in this PEM file"), "FILE" },
    { "deny-cidr", 0, 0, G_OPTION_ARG_STRING_ARRAY, &g->deny_cidr,
      N_ ("Visitors from these address ranges are turned away (checked before --allow-cidr)"), "LIST" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &g->json,
      /* TRANSLATORS: the event names are JSON values, keep them in English. */
      N_ ("Print one JSON object per line (events: ready, stats, state, error, stopped)"), NULL },
    G_OPTION_ENTRY_NULL,
    G_OPTION_ENTRY_NULL
  };

  memcpy (out, entries, sizeof entries);
}

static void
generic_args_clear (GenericArgs *g)
{
  g_clear_pointer (&g->name, g_free);
  g_clear_pointer (&g->cert_file, g_free);
  g_clear_pointer (&g->key_file, g_free);
  g_clear_pointer (&g->allow_cidr, g_strfreev);
  g_clear_pointer (&g->deny_cidr, g_strfreev);
  g_clear_pointer (&g->client_ca, g_free);
}

/* Checks the generic options and moves them into options; usage errors name the option. */
static gboolean
generic_args_apply (GenericArgs *g, CliTunnelOptions *options, GError **error)
{
  if (g->name != NULL && !cli_check_name (g->name, error))
    return FALSE;
  if (!cli_check_cert_pair (g->cert_file, g->key_file, &options->cert_file, &options->key_file, error))
    return FALSE;
  if (!check_cidr ("--allow-cidr", g->allow_cidr, error) || !check_cidr ("--deny-cidr", g->deny_cidr, error))
    return FALSE;
  if (g->client_ca != NULL)
    {
      /* The service runs in another directory: an absolute path, checked readable here. */
      g_autoptr (GFile) file = g_file_new_for_commandline_arg (g->client_ca);

      options->client_ca = g_file_get_path (file);
      if (options->client_ca == NULL || access (options->client_ca, R_OK) != 0)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, _ ("--client-ca: cannot read “%s”"),
                       g->client_ca);
          return FALSE;
        }
    }
  options->name = g_steal_pointer (&g->name);
  options->json = g->json;
  options->allow_cidr = g_steal_pointer (&g->allow_cidr);
  options->deny_cidr = g_steal_pointer (&g->deny_cidr);
  return TRUE;
}

gboolean
cli_tunnel_options_parse (const char        *kind,
                          int                argc,
                          char             **argv,
                          CliTunnelOptions  *options,
                          GError           **error)
{
  g_auto (GenericArgs) g = { 0 };
  g_auto (CliAcmeArgs) acme = { 0 };  /* issue 11: --acme-* */
  GOptionEntry entries[GENERIC_ENTRIES];
  g_autofree char *alpn = NULL;
  g_autofree char *basic_auth = NULL;
  gboolean origin_tls = FALSE;
  g_autofree char *inspect_addr = NULL; /* issue 9 §8 */
  const GOptionEntry http_entries[] = {
    /* issue 9 §8: the request inspector */
    { "inspect", 0, 0, G_OPTION_ARG_STRING, &inspect_addr,
      N_ ("Also show the requests on a local web page at ADDR, loopback only, e.g. "
          "127.0.0.1:4040 (the next port if taken). Off by default: any user of this machine "
          "can reach a loopback port, so the page asks for the token in the address printed"),
      "ADDR" },
    { "inspect-bodies", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, inspect_bodies_option_cb,
      N_ ("The inspector keeps request and response bodies, up to SIZE each (default 64K; "
          "e.g. 1M). Off by default: only methods, paths, headers, status and sizes are kept, "
          "in memory"),
      "SIZE" },
    { "basic-auth", 0, 0, G_OPTION_ARG_STRING, &basic_auth,
      N_ ("Visitors must log in with this user name and password (checked on this machine; "
          "$NFLTR_BASIC_AUTH keeps it off the command line)"),
      "USER:PASSWORD" },
    { "origin-h2", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, origin_h2_option_cb,
      N_ ("How HTTP/2 visitors reach the local server: h2c (true), translated to HTTP/1.1 "
          "(false), or whichever it speaks (auto, the default)"),
      "true|false|auto" },
    { "origin-tls", 0, 0, G_OPTION_ARG_NONE, &origin_tls,
      N_ ("Speak TLS to the local server (its certificate is not checked); ALPN picks HTTP/2 "
          "or HTTP/1.1"),
      NULL },
    G_OPTION_ENTRY_NULL
  };
  const GOptionEntry tcp_entries[] = {
    { "alpn", 0, 0, G_OPTION_ARG_STRING, &alpn,
      N_ ("TLS application protocols to offer (ALPN), comma-separated, e.g. h2,http/1.1 "
          "(default: none)"),
      "LIST" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char *summary = NULL;
  g_autofree char **args = g_new0 (char *, argc + 1);
  int n_args = argc;
  GOptionGroup *group;
  const CliTunnelCommand *command = find_tunnel_command (kind);
  /* What the kind forwards to: a local server's address for ours, the kind's business else. */
  const char *parameter = command != NULL ? "PORT|HOST:PORT" : "TARGET";

  memset (options, 0, sizeof *options);
  options->kind = g_strdup (kind);
  options->e2ee = TRUE;

  context = g_option_context_new (parameter);
  if (command != NULL)
    /* TRANSLATORS: %s is HTTP or TCP */
    summary = g_strdup_printf (
      _ ("Publishes a local %s service through the relay until Ctrl-C. By default the traffic is\n"
         "verified end-to-end: TLS ends on this machine and the relay cannot read it."),
      command->label);
  else
    /* TRANSLATORS: %s is the id of a tunnel kind the service offers; TARGET is the
     * placeholder of the usage line (“nfltr KIND TARGET”). */
    summary = g_strdup_printf (
      _ ("Publishes TARGET through the relay as a “%s” tunnel until Ctrl-C (a kind the service\n"
         "offers; “nfltr help” lists them). By default the traffic is verified end-to-end: TLS\n"
         "ends on this machine and the relay cannot read it."),
      kind);
  g_option_context_set_summary (context, summary);
  if (command != NULL)
    g_option_context_set_description (context, _ (command->examples));
  group = g_option_group_new (kind, kind, kind, options, NULL);
  /* The option descriptions are marked N_(): GOption translates them for --help. */
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  generic_entries (&g, entries);
  g_option_group_add_entries (group, entries);
  if (g_str_equal (kind, "http"))
    g_option_group_add_entries (group, http_entries);
  else if (g_str_equal (kind, "tcp"))
    g_option_group_add_entries (group, tcp_entries);
  cli_acme_add_entries (group, &acme);  /* issue 11 */
  g_option_context_set_main_group (context, group);

  /* GOption reorders the array it is given: work on a copy of the pointers. */
  memcpy (args, argv, sizeof (char *) * argc);
  if (!g_option_context_parse (context, &n_args, &args, error))
    return FALSE;

  if (n_args < 2)
    {
      if (command != NULL)
        /* TRANSLATORS: %s is the command (http, tcp) */
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                     _ ("missing PORT or HOST:PORT of the local service (e.g. “nfltr %s 3000”)"),
                     kind);
      else
        /* TRANSLATORS: %s is the id of a tunnel kind, used as a command */
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                     _ ("missing TARGET (“nfltr %s TARGET”)"), kind);
      return FALSE;
    }
  if (n_args > 2)
    {
      if (command != NULL)
        /* TRANSLATORS: the argument given too many, then the command (http, tcp) */
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                     _ ("unexpected argument “%s”: %s takes one PORT or HOST:PORT"), args[2],
                     kind);
      else
        /* TRANSLATORS: the argument given too many, then the id of a tunnel kind */
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                     _ ("unexpected argument “%s”: %s takes one TARGET"), args[2], kind);
      return FALSE;
    }

  if (command != NULL && !cli_check_target (args[1], error))
    return FALSE;
  if (!generic_args_apply (&g, options, error))
    return FALSE;
  if (!cli_acme_apply (&acme, &options->acme_options, error))  /* issue 11 */
    return FALSE;

  if (inspect_addr != NULL && !cli_check_inspect_address (inspect_addr, error)) /* issue 9 §8 */
    return FALSE;
  options->inspect_addr = g_steal_pointer (&inspect_addr);
  options->target = g_strdup (args[1]);
  options->alpn = g_steal_pointer (&alpn);
  options->origin_tls = origin_tls;
  if (basic_auth == NULL && g_str_equal (kind, "http") && g_getenv ("NFLTR_BASIC_AUTH") != NULL)
    basic_auth = g_strdup (g_getenv ("NFLTR_BASIC_AUTH"));
  if (basic_auth != NULL)
    {
      const char *colon = strchr (basic_auth, ':');

      if (colon == NULL || colon == basic_auth || colon[1] == '\0')
        {
          g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                               _ ("--basic-auth takes USER:PASSWORD, both non-empty"));
          return FALSE;
        }
      options->basic_auth = g_steal_pointer (&basic_auth);
    }
  return TRUE;
}

void
cli_tunnel_options_clear (CliTunnelOptions *options)
{
  g_clear_pointer (&options->kind, g_free);
  g_clear_pointer (&options->target, g_free);
  g_clear_pointer (&options->name, g_free);
  g_clear_pointer (&options->cert_file, g_free);
  g_clear_pointer (&options->key_file, g_free);
  g_clear_pointer (&options->alpn, g_free);
  g_clear_pointer (&options->origin_h2, g_free);
  g_clear_pointer (&options->allow_cidr, g_strfreev);
  g_clear_pointer (&options->basic_auth, g_free);
  g_clear_pointer (&options->client_ca, g_free);
  g_clear_pointer (&options->inspect_addr, g_free); /* issue 9 §8 */
  g_clear_pointer (&options->deny_cidr, g_strfreev);
  g_clear_pointer (&options->kind_options, g_variant_unref);
  g_clear_pointer (&options->acme_options, g_variant_unref);  /* issue 11 */
  g_clear_object (&options->stop);
  g_clear_pointer (&options->stop_message, g_free);
  g_clear_pointer (&options->url_suffix, g_free);
  g_clear_pointer (&options->viewer_suffix, g_free);
}

gboolean
cli_tunnel_options_parse_full (const char          *kind,
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
                               GError             **error)
{
  /* The same generic options (and msgids) as cli_tunnel_options_parse's. */
  g_auto (GenericArgs) g = { 0 };
  g_auto (CliAcmeArgs) acme = { 0 };  /* issue 11: --acme-* */
  GOptionEntry entries[GENERIC_ENTRIES];
  g_autoptr(GOptionContext) context = NULL;
  g_autofree char **args = g_new0 (char *, argc + 1);
  int n_args = argc;
  GOptionGroup *group;

  memset (options, 0, sizeof *options);
  options->kind = g_strdup (kind);
  options->e2ee = TRUE;

  context = g_option_context_new (parameter);
  g_option_context_set_summary (context, summary);
  if (description != NULL)
    g_option_context_set_description (context, description);
  group = g_option_group_new (kind, kind, kind, options, NULL);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  generic_entries (&g, entries);
  /* tail -n and watch -n mean what they mean for tail(1) and watch(1): --name gives way. */
  for (const GOptionEntry *e = extra; e != NULL && e->long_name != NULL; e++)
    if (e->short_name == entries[0].short_name)
      entries[0].short_name = 0;
  g_option_group_add_entries (group, entries);
  if (extra != NULL)
    g_option_group_add_entries (group, extra);
  cli_acme_add_entries (group, &acme);  /* issue 11 */
  g_option_context_set_main_group (context, group);

  memcpy (args, argv, sizeof (char *) * argc);
  if (!g_option_context_parse (context, &n_args, &args, error))
    return FALSE;
  if (n_args - 1 < min_args)
    {
      /* TRANSLATORS: %s is the command (serve, share, …), then its usage */
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _ ("missing %s (“nfltr %s %s”)"),
                   parameter, kind, parameter);
      return FALSE;
    }
  if (max_args >= 0 && n_args - 1 > max_args)
    {
      /* TRANSLATORS: the argument given too many, then the command */
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, _ ("unexpected argument “%s” for %s"),
                   args[max_args + 1], kind);
      return FALSE;
    }
  if (!generic_args_apply (&g, options, error))
    return FALSE;
  if (!cli_acme_apply (&acme, &options->acme_options, error))  /* issue 11 */
    return FALSE;
  if (positional != NULL)
    {
      GStrvBuilder *b = g_strv_builder_new ();

      for (int i = 1; i < n_args; i++)
        g_strv_builder_add (b, args[i]);
      *positional = g_strv_builder_end (b);
      g_strv_builder_unref (b);
    }
  return TRUE;
}

GVariant *
cli_tunnel_options_to_variant (const CliTunnelOptions *options)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&dict, "kind", "s", options->kind);
  g_variant_dict_insert (&dict, "target", "s", options->target);
  if (options->name != NULL)
    g_variant_dict_insert (&dict, "name", "s", options->name);
  g_variant_dict_insert (&dict, "e2ee", "b", options->e2ee);
  /* The kind's own options: the service checks them (nfltr-kind-tcp.c, nfltr-kind-http.c). */
  if (options->alpn != NULL)
    g_variant_dict_insert (&dict, "alpn", "s", options->alpn);
  if (options->origin_h2 != NULL)
    g_variant_dict_insert (&dict, "origin-h2", "s", options->origin_h2);
  if (options->origin_tls)
    g_variant_dict_insert (&dict, "origin-tls", "b", TRUE);
  if (options->allow_cidr != NULL)
    g_variant_dict_insert (&dict, "allow-cidr", "^as", options->allow_cidr);
  if (options->basic_auth != NULL)
    g_variant_dict_insert (&dict, "basic-auth", "s", options->basic_auth);
  if (options->client_ca != NULL)
    g_variant_dict_insert (&dict, "client-ca", "s", options->client_ca);
  if (options->inspect_addr != NULL) /* issue 9 §8 */
    g_variant_dict_insert (&dict, "inspect-addr", "s", options->inspect_addr);
  if (options->inspect_bodies > 0)
    g_variant_dict_insert (&dict, "inspect-bodies", "t", options->inspect_bodies);
  if (options->deny_cidr != NULL)
    g_variant_dict_insert (&dict, "deny-cidr", "^as", options->deny_cidr);
  /* The options of a command in its own file (cmd-serve.c, …), checked by its kind. */
  if (options->kind_options != NULL)
    {
      GVariantIter iter;
      const char *key;
      GVariant *value;

      g_variant_iter_init (&iter, options->kind_options);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          g_variant_dict_insert_value (&dict, key, value);
          g_variant_unref (value);
        }
    }
  /* issue 11: --acme-* (service/acme/ checks them) */
  if (options->acme_options != NULL)
    {
      GVariantIter iter;
      const char *key;
      GVariant *value;

      g_variant_iter_init (&iter, options->acme_options);
      while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
        {
          g_variant_dict_insert_value (&dict, key, value);
          g_variant_unref (value);
        }
    }
  if (options->cert_file != NULL)
    {
      g_variant_dict_insert (&dict, "cert-file", "s", options->cert_file);
      g_variant_dict_insert (&dict, "key-file", "s", options->key_file);
    }
  /* Removed by the service if we go away without Remove (killed, terminal closed). */
  g_variant_dict_insert (&dict, "transient", "b", TRUE);
  return g_variant_dict_end (&dict);
}

/* ---- running ----------------------------------------------------------------------------- */

typedef struct
{
  CliTunnelOptions  options;
  CliClient        *client;
  GMainLoop        *loop;
  GCancellable     *cancellable;
  NfltrDbusTunnel  *tunnel;
  char             *object_path;
  int               exit_status;
  gboolean          ready;
  gboolean          shown_connecting;
  gboolean          stopping;
  gboolean          tty;
  gboolean          color;

  /* what the user has seen */
  char             *shown_state;
  char             *shown_error;
  char             *shown_origin;
  char             *shown_certificate; /* issue 11: cli_acme_certificate_update's */
  gboolean          stats_shown;
  guint             shown_active;
  guint64           shown_total;
  guint64           shown_in;
  guint64           shown_out;
  gint64            stats_time;
  guint             stats_timeout;
  char             *live_line;      /* TTY: the line redrawn in place */

  guint             signal_sources[3];
  guint             removed_subscription;

  /* a command of its own on top of this run (cmd-shell.c): more to say once online */
  CliTunnelReadyHook ready_hook;
  gpointer           ready_data;

  NfltrDbusInspector *inspector;    /* http: the tunnel's request inspector (issue 9 §8) */
  CliStatusPanel     *panel;        /* TTY, once online: the live status panel (issue 9 §9) */
} TunnelRun;

static void tunnel_run_stop (TunnelRun *run, int exit_status);

/* Human mode: a line above the live counters. */
static void
print_line (TunnelRun *run, const char *line)
{
  if (run->panel != NULL) /* issue 9 §9: lines scroll above the panel */
    {
      cli_status_panel_print_line (run->panel, line);
      return;
    }
  if (run->tty && run->live_line != NULL)
    fputs ("\r\033[K", stdout);
  fputs (line, stdout);
  fputc ('\n', stdout);
  if (run->tty && run->live_line != NULL)
    fputs (run->live_line, stdout);
  fflush (stdout);
}

/* Human mode, before leaving: end the live line so the shell prompt starts on its own line. */
static void
finish_live_line (TunnelRun *run)
{
  g_clear_pointer (&run->panel, cli_status_panel_free); /* issue 9 §9 */
  if (run->tty && run->live_line != NULL)
    {
      fputc ('\n', stdout);
      fflush (stdout);
      g_clear_pointer (&run->live_line, g_free);
    }
}

/* json_message: the message of the JSON error event, in English whatever the locale (--json
 * output is an API); message: the same in the user's language, for stderr. */
static void
show_error (TunnelRun *run, const char *json_message, const char *message)
{
  if (run->options.json)
    {
      g_autofree char *line = cli_event_error (json_message);

      cli_print_flushed (line);
    }
  finish_live_line (run);
  cli_fail (CLI_EXIT_FAILURE, "%s", message);
}

/* The tunnel is gone or never came: say why and end the run with a failure. */
static void
fail_run (TunnelRun *run, const char *json_message, const char *message)
{
  show_error (run, json_message, message);
  run->stopping = TRUE;
  run->exit_status = CLI_EXIT_FAILURE;
  g_main_loop_quit (run->loop);
}

static void
show_stats (TunnelRun *run, gboolean force)
{
  guint active = nfltr_dbus_tunnel_get_active_connections (run->tunnel);
  guint64 total = nfltr_dbus_tunnel_get_total_connections (run->tunnel);
  guint64 bytes_in = nfltr_dbus_tunnel_get_bytes_in (run->tunnel);
  guint64 bytes_out = nfltr_dbus_tunnel_get_bytes_out (run->tunnel);

  if (!force && run->stats_shown && active == run->shown_active && total == run->shown_total &&
      bytes_in == run->shown_in && bytes_out == run->shown_out)
    return;

  run->stats_shown = TRUE;
  run->shown_active = active;
  run->shown_total = total;
  run->shown_in = bytes_in;
  run->shown_out = bytes_out;
  run->stats_time = g_get_monotonic_time ();

  if (run->options.json)
    {
      g_autofree char *line = cli_event_stats (active, total, bytes_in, bytes_out);

      cli_print_flushed (line);
    }
  else if (run->panel != NULL) /* issue 9 §9 */
    cli_status_panel_changed (run->panel);
  else if (run->tty)
    {
      g_free (run->live_line);
      run->live_line = cli_format_stats (active, total, bytes_in, bytes_out);
      fputs ("\r\033[K", stdout);
      fputs (run->live_line, stdout);
      fflush (stdout);
    }
  else
    {
      g_autofree char *line = cli_format_stats (active, total, bytes_in, bytes_out);

      print_line (run, line);
    }
}

static gboolean
stats_timeout_cb (gpointer user_data)
{
  TunnelRun *run = user_data;

  run->stats_timeout = 0;
  show_stats (run, FALSE);
  return G_SOURCE_REMOVE;
}

/* Counters can change thousands of times a second; the user sees them once a second. */
static void
schedule_stats (TunnelRun *run)
{
  gint64 since = g_get_monotonic_time () - run->stats_time;

  if (run->stats_timeout != 0)
    return;
  if (since >= STATS_INTERVAL_US)
    show_stats (run, FALSE);
  else
    run->stats_timeout = g_timeout_add ((STATS_INTERVAL_US - since) / 1000 + 1,
                                        stats_timeout_cb, run);
}

static void
show_state (TunnelRun *run)
{
  const char *state = nfltr_dbus_tunnel_get_state (run->tunnel);
  const char *error = nfltr_dbus_tunnel_get_last_error (run->tunnel);
  gboolean state_changed = g_strcmp0 (state, run->shown_state) != 0;
  gboolean error_changed = g_strcmp0 (error, run->shown_error) != 0;

  if (!state_changed && !error_changed)
    return;
  g_free (run->shown_state);
  run->shown_state = g_strdup (state);
  g_free (run->shown_error);
  run->shown_error = g_strdup (error);

  if (run->options.json)
    {
      g_autofree char *line = cli_event_state (state, error);

      cli_print_flushed (line);
    }
  else if (state_changed)
    {
      g_autofree char *line = NULL;

      if (error != NULL && *error != '\0' && g_strcmp0 (state, "online") != 0)
        /* TRANSLATORS: the lines nfltr http prints are “Label:” and the value; pad the
         * labels with spaces so that all values start in the same column, as in nfltr
         * status. Here: the tunnel's state (a word of the service's: online, reconnecting,
         * …) and what went wrong. */
        line = g_strdup_printf (_ ("State:       %s — %s"), state, error);
      else
        line = g_strdup_printf (_ ("State:       %s"), state);
      print_line (run, line);
    }
  else if (error != NULL && *error != '\0')
    {
      g_autofree char *line = g_strdup_printf (_ ("Error:       %s"), error);

      print_line (run, line);
    }
}

static void
show_ready (TunnelRun *run)
{
  NfltrDbusTunnel *t = run->tunnel;
  const char *mode = nfltr_dbus_tunnel_get_mode (t);
  gboolean inspectable = g_strcmp0 (mode, "inspectable") == 0;
  g_autofree char *url = NULL;
  g_autofree char *viewer_url = NULL;

  /* A command may add a path to the URL (share: its secret). */
  if (run->options.url_suffix != NULL)
    {
      g_autofree char *base = g_strdup (nfltr_dbus_tunnel_get_public_url (t));

      if (g_str_has_suffix (base, "/"))
        base[strlen (base) - 1] = '\0';
      url = g_strconcat (base, run->options.url_suffix, NULL);
    }
  else
    url = g_strdup (nfltr_dbus_tunnel_get_public_url (t));
  /* terminal --viewer: a second, read-only link. */
  if (run->options.viewer_suffix != NULL)
    {
      g_autofree char *base = g_strdup (nfltr_dbus_tunnel_get_public_url (t));

      if (g_str_has_suffix (base, "/"))
        base[strlen (base) - 1] = '\0';
      viewer_url = g_strconcat (base, run->options.viewer_suffix, NULL);
    }

  if (run->options.json)
    {
      g_autofree char *line = cli_event_ready_for (t, url);

      if (viewer_url != NULL)
        {
          char *with_viewer = cli_event_add_string (line, "viewer_url", viewer_url);

          g_free (line);
          line = with_viewer;
        }
      if (cli_inspector_url (run->inspector) != NULL) /* issue 9 §8 */
        {
          char *with_inspector = cli_event_add_string (line, "inspect_url", cli_inspector_url (run->inspector));

          g_free (line);
          line = with_inspector;
        }
      cli_print_flushed (line);
      if (run->ready_hook != NULL)
        run->ready_hook (t, TRUE, run->ready_data);
    }
  else
    {
      const char *bold_red = run->color ? "\033[1;31m" : "";
      const char *reset = run->color ? "\033[0m" : "";
      g_autofree char *mode_line = NULL;
      g_autofree char *warning = cli_certificate_warning (t);

      /* TRANSLATORS: the public URL and the local address it forwards to. Labels padded as
       * in “State:       %s” (see there). */
      printf (_ ("URL:         %s → %s\n"), url, nfltr_dbus_tunnel_get_target (t));
      if (viewer_url != NULL)
        /* TRANSLATORS: the read-only link of nfltr terminal --viewer. Label padded as in
         * “State:       %s”. */
        printf (_ ("Viewer URL:  %s (read-only)\n"), viewer_url);
      /* TRANSLATORS: the %s around the mode are colour codes; keep all three. */
      mode_line = g_strdup_printf (_ ("Mode:        %s%s%s\n"), inspectable ? bold_red : "",
                                   cli_mode_description (mode), inspectable ? reset : "");
      /* Composed first: gcc's sanitizer build cannot prove a translated format non-NULL
       * inside printf (-Werror=format-overflow). */
      fputs (mode_line, stdout);
      if (inspectable)
        printf (_ ("Fingerprint: %s (relay→agent hop; clients see the relay's certificate)\n"),
                nfltr_dbus_tunnel_get_fingerprint (t));
      else
        printf (_ ("Fingerprint: %s\n"), nfltr_dbus_tunnel_get_fingerprint (t));
      if (g_str_has_prefix (nfltr_dbus_tunnel_get_public_url (t), "tls://"))
        {
          const char *hostport = nfltr_dbus_tunnel_get_public_url (t) + strlen ("tls://");
          g_autofree char *clients = NULL;

          /* TRANSLATORS: how clients reach a tcp tunnel; %s is HOST:PORT twice. Keep the
           * command and its options as they are. */
          clients = g_strdup_printf (
            _ ("Clients:     nfltr connect %s --listen 127.0.0.1:PORT\n"
               "             (or any TLS client that sends %s as SNI and checks the fingerprint)\n"),
            hostport, hostport);
          fputs (clients, stdout);
        }
      if (warning != NULL)
        {
          /* TRANSLATORS: %s is a sentence about the tunnel's certificate; the label is padded
           * as in “State:       %s” (see there). */
          g_autofree char *line = g_strdup_printf (_ ("Certificate: %s\n"), warning);

          fputs (line, stdout);
        }
      cli_inspector_print_ready (run->inspector, run->options.inspect_addr != NULL); /* issue 9 §8 */
      if (run->ready_hook != NULL)
        run->ready_hook (t, FALSE, run->ready_data);
      fputs (_ ("Press Ctrl-C to stop the tunnel.\n"), stdout);
      fflush (stdout);
    }

  run->shown_state = g_strdup (nfltr_dbus_tunnel_get_state (t));
  run->shown_error = g_strdup (nfltr_dbus_tunnel_get_last_error (t));
  run->shown_origin = g_strdup ("unknown");
  /* The counters' starting point; a terminal shows it at once, other outputs on change. */
  if (run->tty && !run->options.json) /* issue 9 §9: the live status panel */
    {
      run->panel = cli_status_panel_new (t, cli_client_get_manager (run->client), run->inspector, run->color);
      show_stats (run, TRUE);
    }
  else
    {
      run->stats_shown = TRUE;
      run->shown_active = nfltr_dbus_tunnel_get_active_connections (t);
      run->shown_total = nfltr_dbus_tunnel_get_total_connections (t);
      run->shown_in = nfltr_dbus_tunnel_get_bytes_in (t);
      run->shown_out = nfltr_dbus_tunnel_get_bytes_out (t);
    }
}

/* Issue 9 §2: the local server stopped (or started again) answering visitors. */
static void
show_origin (TunnelRun *run)
{
  NfltrDbusTunnel *t = run->tunnel;
  const char *origin = nfltr_dbus_tunnel_get_origin_state (t);
  const char *error = nfltr_dbus_tunnel_get_origin_error (t);
  gboolean was_down = g_strcmp0 (run->shown_origin, "down") == 0;

  if (origin == NULL || g_strcmp0 (origin, run->shown_origin) == 0)
    return;
  g_free (run->shown_origin);
  run->shown_origin = g_strdup (origin);
  if (run->options.json)
    {
      g_autofree char *line = cli_event_origin (origin, error,
                                                nfltr_dbus_tunnel_get_origin_failures (t));

      cli_print_flushed (line);
    }
  else if (g_strcmp0 (origin, "down") == 0)
    {
      /* TRANSLATORS: %s is why the local server could not be reached, in English, naming
       * its address ("could not connect to 127.0.0.1:3000: Connection refused") */
      g_autofree char *line = g_strdup_printf (_ ("Local server is not answering: %s. Visitors "
                                                  "get an error until it does."),
                                               error != NULL && *error ? error : "?");

      print_line (run, line);
    }
  else if (g_strcmp0 (origin, "up") == 0 && was_down)
    print_line (run, _ ("Local server is answering again."));
}

/* Issue 11: the certificate changed (ACME) or ACME failed. */
static void
show_certificate (TunnelRun *run)
{
  g_autofree char *line = cli_acme_certificate_update (run->tunnel, run->options.json, &run->shown_certificate);

  if (line == NULL)
    return;
  if (run->options.json)
    cli_print_flushed (line);
  else
    print_line (run, line);
}

static void
tunnel_changed (TunnelRun *run)
{
  const char *state = nfltr_dbus_tunnel_get_state (run->tunnel);
  const char *url = nfltr_dbus_tunnel_get_public_url (run->tunnel);

  if (run->stopping)
    return;

  if (g_strcmp0 (state, "failed") == 0)
    {
      const char *error = nfltr_dbus_tunnel_get_last_error (run->tunnel);
      gboolean has_error = error != NULL && *error != '\0';
      g_autofree char *json_message = g_strdup_printf ("tunnel failed: %s",
                                                       has_error ? error : "no reason given");
      /* TRANSLATORS: %s is the service's reason (in English) or “no reason given” */
      g_autofree char *message = g_strdup_printf (_ ("tunnel failed: %s"),
                                                  has_error ? error : _ ("no reason given"));

      if (run->ready)
        show_state (run);
      show_error (run, json_message, message);
      tunnel_run_stop (run, CLI_EXIT_FAILURE);
      return;
    }

  if (!run->ready)
    {
      /* CreateTunnel returns once online, or at once with the relay away ("connecting"). */
      if (g_strcmp0 (state, "online") == 0 && url != NULL && *url != '\0')
        {
          run->ready = TRUE;
          show_ready (run);
          show_certificate (run);  /* issue 11: records what the ready line showed */
        }
      else if (g_strcmp0 (state, "connecting") == 0 && !run->shown_connecting)
        {
          run->shown_connecting = TRUE;
          if (run->options.json)
            {
              g_autofree char *line = cli_event_state (state, nfltr_dbus_tunnel_get_last_error (run->tunnel));

              cli_print_flushed (line);
            }
          else
            {
              fputs (_ ("Connecting to relay…\n"), stdout);
              fflush (stdout);
            }
        }
      return;
    }

  show_state (run);
  show_origin (run);
  show_certificate (run);  /* issue 11: ACME issuance and renewal */
  schedule_stats (run);
  if (run->panel != NULL) /* issue 9 §9 */
    cli_status_panel_changed (run->panel);
}

static void
properties_changed_cb (GDBusProxy *proxy,
                       GVariant   *changed,
                       GStrv       invalidated,
                       gpointer    user_data)
{
  tunnel_changed (user_data);
}

static void
remove_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TunnelRun *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!nfltr_dbus_tunnel_call_remove_finish (NFLTR_DBUS_TUNNEL (source), result, &error) &&
      !g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_NOT_FOUND))
    {
      g_autofree char *message = cli_error_message (error);
      g_autofree char *json_text = g_strdup_printf ("could not remove the tunnel: %s", message);
      g_autofree char *text = g_strdup_printf (_ ("could not remove the tunnel: %s"), message);

      show_error (run, json_text, text);
      run->exit_status = CLI_EXIT_FAILURE;
    }
  else if (run->exit_status == CLI_EXIT_OK)
    {
      if (run->options.json)
        {
          g_autofree char *line = cli_event_stopped ();

          cli_print_flushed (line);
        }
      else
        {
          finish_live_line (run);
          fputs (_ ("Tunnel removed.\n"), stdout);
          fflush (stdout);
        }
    }
  g_main_loop_quit (run->loop);
}

/* Removes the tunnel (if there is one) and leaves the loop. */
static void
tunnel_run_stop (TunnelRun *run, int exit_status)
{
  if (run->stopping)
    return;
  run->stopping = TRUE;
  run->exit_status = exit_status;
  g_clear_handle_id (&run->stats_timeout, g_source_remove);

  if (run->tunnel != NULL)
    nfltr_dbus_tunnel_call_remove (run->tunnel, NULL, remove_cb, run);
  else
    {
      g_cancellable_cancel (run->cancellable);
      g_main_loop_quit (run->loop);
    }
}

static gboolean
signal_cb (gpointer user_data)
{
  TunnelRun *run = user_data;

  if (run->stopping)
    {
      /* A second Ctrl-C: leave now; the service removes a transient tunnel whose client left. */
      g_main_loop_quit (run->loop);
      return G_SOURCE_CONTINUE;
    }
  tunnel_run_stop (run, run->tunnel != NULL ? CLI_EXIT_OK : CLI_EXIT_INTERRUPTED);
  return G_SOURCE_CONTINUE;
}

static void
service_lost_cb (gpointer user_data)
{
  TunnelRun *run = user_data;

  if (run->stopping)
    return;
  fail_run (run, "lost the connection to the NFLTR service; the tunnel is gone",
            _ ("lost the connection to the NFLTR service; the tunnel is gone"));
}

static void
interfaces_removed_cb (GDBusConnection *connection,
                       const char      *sender,
                       const char      *object_path,
                       const char      *interface_name,
                       const char      *signal_name,
                       GVariant        *parameters,
                       gpointer         user_data)
{
  TunnelRun *run = user_data;
  const char *path = NULL;

  if (!g_variant_is_of_type (parameters, G_VARIANT_TYPE ("(oas)")))
    return;
  g_variant_get (parameters, "(&o@as)", &path, NULL);
  if (run->stopping || g_strcmp0 (path, run->object_path) != 0)
    return;
  fail_run (run, "the tunnel was removed by another client",
            _ ("the tunnel was removed by another client"));
}

static void
create_tunnel_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  TunnelRun *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;

  if (!nfltr_dbus_manager_call_create_tunnel_finish (NFLTR_DBUS_MANAGER (source), &path, result,
                                                     &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *message = cli_error_message (error);

          show_error (run, message, message);
          run->exit_status = CLI_EXIT_FAILURE;
        }
      run->stopping = TRUE;
      g_main_loop_quit (run->loop);
      return;
    }

  run->object_path = g_steal_pointer (&path);
  run->tunnel = cli_client_get_tunnel (run->client, run->object_path, &error);
  if (run->tunnel == NULL)
    {
      g_autofree char *message = cli_error_message (error);

      fail_run (run, message, message);
      return;
    }

  g_signal_connect (run->tunnel, "g-properties-changed", G_CALLBACK (properties_changed_cb), run);
  if (g_str_equal (run->options.kind, "http")) /* issue 9 §8 */
    run->inspector = cli_inspector_get (run->client, run->object_path);
  run->removed_subscription =
    g_dbus_connection_signal_subscribe (cli_client_get_connection (run->client),
                                        cli_client_get_bus_name (run->client),
                                        "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", NFLTR_SERVICE_OBJECT_PATH, NULL,
                                        G_DBUS_SIGNAL_FLAGS_NONE, interfaces_removed_cb, run,
                                        NULL);
  tunnel_changed (run);
}

/* client: already connected (the generic path asked it for its kinds), or NULL. */
static int
run_tunnel (const char *kind, CliClient *connected, int argc, char **argv,
            CliTunnelReadyHook ready_hook, gpointer ready_data)
{
  CliTunnelOptions options;
  g_autoptr(GError) error = NULL;

  if (!cli_tunnel_options_parse (kind, argc, argv, &options, &error))
    {
      cli_fail (CLI_EXIT_USAGE, "%s", error->message);
      /* A wrong flag or argument, not an unreadable file: point at the help. */
      if (error->domain == G_OPTION_ERROR)
        fprintf (stderr, _ ("Try “nfltr %s --help”.\n"), kind);
      cli_tunnel_options_clear (&options);
      return CLI_EXIT_USAGE;
    }
  options.ready_hook = ready_hook;
  options.ready_data = ready_data;
  return cli_tunnel_run (&options, connected);
}

static void
stop_cancelled_cb (GCancellable *cancellable, gpointer user_data)
{
  TunnelRun *run = user_data;
  const char *message = g_object_get_data (G_OBJECT (cancellable), "message");

  /* The message set on the cancellable (a reason known only when it fires) wins. */
  if (message != NULL)
    {
      g_free (run->options.stop_message);
      run->options.stop_message = g_strdup (message);
    }

  if (run->stopping)
    return;
  if (run->options.json)
    {
      g_autofree char *line = cli_event_state ("finished", run->options.stop_message);

      cli_print_flushed (line);
    }
  else if (run->options.stop_message != NULL)
    {
      g_autofree char *line = g_strdup_printf ("%s", run->options.stop_message);

      finish_live_line (run);
      print_line (run, line);
    }
  tunnel_run_stop (run, CLI_EXIT_OK);
}

int
cli_tunnel_run (CliTunnelOptions *options, CliClient *connected)
{
  TunnelRun run = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) variant = NULL;
  g_autoptr(CliClient) client = connected;
  const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  gulong stop_handler = 0;

  run.options = *options;
  memset (options, 0, sizeof *options);
  if (client == NULL)
    client = cli_client_connect (&error);
  if (client == NULL)
    {
      g_autofree char *message = cli_error_message (error);

      cli_tunnel_options_clear (&run.options);
      return cli_fail (CLI_EXIT_FAILURE, "%s", message);
    }

  run.client = client;
  run.loop = g_main_loop_new (NULL, FALSE);
  run.cancellable = g_cancellable_new ();
  run.tty = cli_stdout_is_tty ();
  run.color = cli_use_color ();
  run.exit_status = CLI_EXIT_OK;
  run.ready_hook = run.options.ready_hook;
  run.ready_data = run.options.ready_data;
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    run.signal_sources[i] = g_unix_signal_add (signals[i], signal_cb, &run);
  cli_client_set_lost_func (client, service_lost_cb, &run);

  variant = g_variant_ref_sink (cli_tunnel_options_to_variant (&run.options));
  nfltr_dbus_manager_call_create_tunnel (cli_client_get_manager (client), variant,
                                         run.cancellable, create_tunnel_cb, &run);
  /* The command's own end (a share that expired), on this thread's loop. */
  if (run.options.stop != NULL)
    stop_handler = g_cancellable_connect (run.options.stop, G_CALLBACK (stop_cancelled_cb), &run, NULL);
  g_main_loop_run (run.loop);
  if (stop_handler != 0)
    g_cancellable_disconnect (run.options.stop, stop_handler);

  cli_client_set_lost_func (client, NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    g_clear_handle_id (&run.signal_sources[i], g_source_remove);
  g_clear_handle_id (&run.stats_timeout, g_source_remove);
  if (run.removed_subscription != 0)
    g_dbus_connection_signal_unsubscribe (cli_client_get_connection (client),
                                          run.removed_subscription);
  if (run.tunnel != NULL)
    g_signal_handlers_disconnect_by_data (run.tunnel, &run);
  finish_live_line (&run);

  g_clear_object (&run.inspector); /* issue 9 §8 */
  g_clear_object (&run.tunnel);
  g_clear_object (&run.cancellable);
  g_clear_pointer (&run.loop, g_main_loop_unref);
  g_free (run.object_path);
  g_free (run.shown_state);
  g_free (run.shown_error);
  g_free (run.shown_origin);
  g_free (run.shown_certificate);
  cli_tunnel_options_clear (&run.options);
  return run.exit_status;
}

int
cli_cmd_http (int argc, char **argv)
{
  return run_tunnel ("http", NULL, argc, argv, NULL, NULL);
}

int
cli_cmd_tcp (int argc, char **argv)
{
  return run_tunnel ("tcp", NULL, argc, argv, NULL, NULL);
}

int
cli_run_tunnel (const char *kind, int argc, char **argv, CliTunnelReadyHook ready_hook,
                gpointer ready_data)
{
  return run_tunnel (kind, NULL, argc, argv, ready_hook, ready_data);
}

static gboolean
kinds_contain (GVariant *kinds, const char *kind)
{
  const char *id, *label, *description;
  GVariantIter iter;

  if (kinds == NULL || !g_variant_is_of_type (kinds, G_VARIANT_TYPE ("a(sss)")))
    return FALSE;
  g_variant_iter_init (&iter, kinds);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
    if (g_str_equal (id, kind))
      return TRUE;
  return FALSE;
}

gboolean
cli_cmd_kind (int argc, char **argv, int *exit_status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = cli_client_connect (&error);

  if (client == NULL)
    {
      g_debug ("cannot ask the service for its kinds: %s", error->message);
      return FALSE;
    }
  if (!kinds_contain (nfltr_dbus_manager_get_kinds (cli_client_get_manager (client)), argv[0]))
    return FALSE;
  *exit_status = run_tunnel (argv[0], g_steal_pointer (&client), argc, argv, NULL, NULL);
  return TRUE;
}

/* TRUE when the service already runs on its bus: `nfltr help` asks it then, and never
 * starts one just to print a help text. */
static gboolean
service_is_running (void)
{
  g_autoptr(GDBusConnection) bus = nfltr_service_locator_get_bus_sync (NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean running = FALSE;

  if (bus == NULL)
    return FALSE;
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", NFLTR_SERVICE_BUS_NAME), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, 2000, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &running);
  return running;
}

static void
print_kind_list (FILE *out, GVariant *kinds)
{
  const char *id, *label, *description;
  GVariantIter iter;

  g_variant_iter_init (&iter, kinds);
  while (g_variant_iter_next (&iter, "(&s&s&s)", &id, &label, &description))
    fprintf (out, "  %-7s %s\n", id, description);
}

void
cli_print_kinds (FILE *out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  GVariant *kinds;

  /* TRANSLATORS: a heading of nfltr help; KIND and TARGET are placeholders, as in the
   * usage lines above. */
  fprintf (out, "\n%s\n", _ ("Tunnel kinds (run as “nfltr KIND TARGET”):"));
  if (!service_is_running ())
    {
#ifdef NFLTR_HAVE_ENGINE
      /* The engine linked into this binary is the one a service started by it would run:
       * its table of kinds is the same Manager.Kinds would list. */
      g_autoptr(GVariant) local = g_variant_ref_sink (nfltr_tunnel_kind_list_to_variant ());

      print_kind_list (out, local);
#else
      fprintf (out, "  %s\n", _ ("(the service is not running; any other nfltr command starts it)"));
#endif
      return;
    }
  client = cli_client_connect (&error);
  if (client == NULL)
    {
      g_autofree char *message = cli_error_message (error);
      g_autofree char *line = g_strdup_printf (_ ("(the service could not be asked: %s)"), message);

      fprintf (out, "  %s\n", line);
      return;
    }
  kinds = nfltr_dbus_manager_get_kinds (cli_client_get_manager (client));
  if (kinds == NULL || !g_variant_is_of_type (kinds, G_VARIANT_TYPE ("a(sss)")))
    {
      fprintf (out, "  %s\n", _ ("(the service does not list its kinds)"));
      return;
    }
  print_kind_list (out, kinds);
}
