/* cli-tunnel-options.c — the command line every tunnel command shares (`nfltr http`, `tcp`,
 * `KIND TARGET`, and the web kinds' own commands): parsing, checks and the D-Bus options
 * dictionary for Manager.CreateTunnel. Running the tunnel is cmd-tunnel.c's job. */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-acme-options.h"  /* issue 11: --acme-* */
#include "cli-args.h"
#include "cli-commands.h"
#include "cli-status-panel.h" /* issue 9 §8: --inspect address, --inspect-bodies */
#include "nfltr-cidr.h"

#include "nfltr-error.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

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
