/* relay-cmd-tokens.c — `nfltr-relay tokens create|list|revoke` (fleet tokens) */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "relay-types.h"
#include "store/relay-store.h"
#include "nfltr-proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "never", or N followed by s, m, h or d: seconds from now; -1 when text is neither. */
static gint64
parse_duration (const char *text)
{
  static const struct {
    char unit;
    gint64 seconds;
  } units[] = {
    { 's', 1 },
    { 'm', 60 },
    { 'h', 3600 },
    { 'd', 86400 },
  };
  guint64 n;
  g_autofree char *digits = NULL;
  gsize len = strlen (text);

  if (strcmp (text, "never") == 0)
    return 0;
  if (len < 2)
    return -1;
  digits = g_strndup (text, len - 1);
  if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXINT32, &n, NULL))
    return -1;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (text[len - 1] == units[i].unit)
      return (gint64) n * units[i].seconds;
  return -1;
}

static char *
format_unix (gint64 when)
{
  g_autoptr(GDateTime) time = NULL;

  if (when <= 0)
    return g_strdup ("never");
  time = g_date_time_new_from_unix_utc (when);
  return time ? g_date_time_format (time, "%Y-%m-%dT%H:%M:%SZ") : g_strdup ("?");
}

static int
tokens_create (RelayStore *store, const char *name, const char *prefix, gint64 max_uses,
               const char *expires_text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *until = NULL;
  g_autofree char *uses = NULL;
  gint64 lifetime = parse_duration (expires_text);
  gint64 expires;
  gint64 id;

  if (lifetime < 0)
    {
      fprintf (stderr, "nfltr-relay tokens create: --expires “%s”: give “never” or a number "
               "followed by s, m, h or d (e.g. 7d)\n", expires_text);
      return 2;
    }
  if (max_uses < 0)
    {
      fprintf (stderr, "nfltr-relay tokens create: --max-uses must be 0 (no limit) or more\n");
      return 2;
    }
  /* The prefix is the start of a DNS label: what a name under it may begin with. */
  if (prefix != NULL && *prefix != '\0')
    {
      g_autofree char *probe = g_strconcat (prefix, "x", NULL);

      if (!nfltr_proto_name_is_valid (probe) || g_ascii_strcasecmp (prefix, probe) > 0 ||
          strcspn (prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen (prefix))
        {
          fprintf (stderr, "nfltr-relay tokens create: --prefix “%s” is not the start of a "
                   "name (a-z, 0-9, '-')\n", prefix);
          return 2;
        }
    }
  expires = lifetime > 0 ? g_get_real_time () / G_USEC_PER_SEC + lifetime : 0;
  if (!relay_store_token_create (store, name, prefix, max_uses, expires, &token, &id, &error))
    {
      fprintf (stderr, "nfltr-relay tokens create: %s\n", error->message);
      return 1;
    }
  until = format_unix (expires);
  /* The token alone on stdout, as `keys create` does; the rest on stderr. */
  uses = max_uses > 0 ? g_strdup_printf ("at most %" G_GINT64_FORMAT " enrolments", max_uses)
                      : g_strdup ("enrolments without limit");
  fprintf (stderr, "nfltr-relay: created fleet token %" G_GINT64_FORMAT "%s%s%s: %s, "
           "names %s%s, expires %s. It is shown only once; the relay keeps only its SHA-256.\n",
           id, name ? " (" : "", name ? name : "", name ? ")" : "", uses,
           prefix && *prefix ? "starting with " : "any", prefix && *prefix ? prefix : "", until);
  printf ("%s\n", token);
  return 0;
}

static int
tokens_list (RelayStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = relay_store_token_list (store, &error);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (tokens == NULL)
    {
      fprintf (stderr, "nfltr-relay tokens list: %s\n", error->message);
      return 1;
    }
  printf ("%-5s %-16s %-12s %-9s %-21s %s\n", "ID", "NAME", "PREFIX", "USES", "EXPIRES", "STATUS");
  for (guint i = 0; i < tokens->len; i++)
    {
      RelayTokenInfo *info = tokens->pdata[i];
      g_autofree char *uses = info->max_uses > 0
        ? g_strdup_printf ("%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT, info->uses, info->max_uses)
        : g_strdup_printf ("%" G_GINT64_FORMAT "/-", info->uses);
      g_autofree char *until = format_unix (info->expires);
      g_autofree char *status = NULL;

      if (info->revoked)
        status = g_strdup_printf ("revoked %s", info->revoked);
      else if (info->expires > 0 && info->expires <= now)
        status = g_strdup ("expired");
      else if (info->max_uses > 0 && info->uses >= info->max_uses)
        status = g_strdup ("used up");
      else
        status = g_strdup ("active");
      printf ("%-5" G_GINT64_FORMAT " %-16s %-12s %-9s %-21s %s\n", info->id,
              info->name && *info->name ? info->name : "-",
              info->prefix && *info->prefix ? info->prefix : "-", uses, until, status);
    }
  return 0;
}

/* ID from text, or 0 after telling the user. */
static gint64
parse_id (const char *command, const char *text, const char *list_hint)
{
  guint64 id;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &id, NULL))
    {
      fprintf (stderr, "nfltr-relay %s: “%s” is not an id (see “%s”)\n", command, text, list_hint);
      return 0;
    }
  return (gint64) id;
}

int
relay_cmd_tokens (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *name = NULL;
  g_autofree char *prefix = NULL;
  g_autofree char *expires = NULL;
  gint max_uses = 0;
  const GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "relay.db location (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "Label for a new token (create)", "LABEL" },
    { "prefix", 'p', 0, G_OPTION_ARG_STRING, &prefix, "Names its agents may bind start with this (create; default: any)", "PREFIX" },
    { "max-uses", 'u', 0, G_OPTION_ARG_INT, &max_uses, "Enrol at most N agents (create; default 0: no limit)", "N" },
    { "expires", 'e', 0, G_OPTION_ARG_STRING, &expires, "Stop enrolling after this long: 30m, 12h, 7d or never (create; default 7d)", "DURATION" },
    { NULL }
  };
  const char *usage = "create|list|revoke ID - manage fleet tokens (one token enrols many agents)";
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayStore) store = NULL;
  const char *verb;
  gint64 id;

  if (!relay_cmd_parse_options ("tokens", usage, entries, &argc, &argv))
    return 2;
  verb = argc >= 2 ? argv[1] : NULL;
  if (verb == NULL || (strcmp (verb, "revoke") == 0 ? argc != 3 : argc != 2) ||
      !(strcmp (verb, "create") == 0 || strcmp (verb, "list") == 0 || strcmp (verb, "revoke") == 0))
    {
      fprintf (stderr, "Usage: nfltr-relay tokens create [--name LABEL] [--prefix PREFIX] [--max-uses N] "
                       "[--expires DURATION] | list | revoke ID  [--data-dir DIR]\n");
      return 2;
    }
  relay_cmd_default_data_dir (&data_dir);
  store = relay_store_open (data_dir, &error);
  if (store == NULL)
    {
      fprintf (stderr, "nfltr-relay tokens: %s\n", error->message);
      return 1;
    }
  if (strcmp (verb, "create") == 0)
    return tokens_create (store, name, prefix, max_uses, expires ? expires : "7d");
  if (strcmp (verb, "list") == 0)
    return tokens_list (store);
  id = parse_id ("tokens revoke", argv[2], "nfltr-relay tokens list");
  if (id == 0)
    return 2;
  if (!relay_store_token_revoke (store, id, &error))
    {
      fprintf (stderr, "nfltr-relay tokens revoke: %s\n", error->message);
      return 1;
    }
  printf ("revoked fleet token %" G_GINT64_FORMAT ": it enrols nobody from now on; agents it "
          "enrolled keep their own credentials (nfltr-relay agents revoke ID cuts one)\n", id);
  return 0;
}

static int
agents_list (RelayStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) agents = relay_store_agent_list (store, &error);

  if (agents == NULL)
    {
      fprintf (stderr, "nfltr-relay agents list: %s\n", error->message);
      return 1;
    }
  printf ("%-5s %-32s %-16s %-12s %-21s %s\n", "ID", "AGENT", "TOKEN", "PREFIX", "ENROLLED", "STATUS");
  for (guint i = 0; i < agents->len; i++)
    {
      RelayEnrolInfo *info = agents->pdata[i];
      g_autofree char *token = info->token_name && *info->token_name
        ? g_strdup_printf ("%" G_GINT64_FORMAT " (%s)", info->token_id, info->token_name)
        : g_strdup_printf ("%" G_GINT64_FORMAT, info->token_id);
      g_autofree char *status = info->revoked ? g_strdup_printf ("revoked %s", info->revoked)
                                              : g_strdup ("active");

      printf ("%-5" G_GINT64_FORMAT " %-32s %-16s %-12s %-21s %s\n", info->id, info->agent_id, token,
              info->prefix && *info->prefix ? info->prefix : "-", info->created, status);
    }
  return 0;
}

int
relay_cmd_agents (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  const GOptionEntry entries[] = { { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "relay.db location (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
                                   { NULL } };
  const char *usage = "list|revoke ID - agents enrolled with fleet tokens";
  g_autoptr (GError) error = NULL;
  g_autoptr (RelayStore) store = NULL;
  const char *verb;
  gint64 id;

  if (!relay_cmd_parse_options ("agents", usage, entries, &argc, &argv))
    return 2;
  verb = argc >= 2 ? argv[1] : NULL;
  if (verb == NULL || (strcmp (verb, "revoke") == 0 ? argc != 3 : argc != 2) ||
      !(strcmp (verb, "list") == 0 || strcmp (verb, "revoke") == 0))
    {
      fprintf (stderr, "Usage: nfltr-relay agents list | revoke ID  [--data-dir DIR]\n");
      return 2;
    }
  relay_cmd_default_data_dir (&data_dir);
  store = relay_store_open (data_dir, &error);
  if (store == NULL)
    {
      fprintf (stderr, "nfltr-relay agents: %s\n", error->message);
      return 1;
    }
  if (strcmp (verb, "list") == 0)
    return agents_list (store);
  id = parse_id ("agents revoke", argv[2], "nfltr-relay agents list");
  if (id == 0)
    return 2;
  if (!relay_store_agent_revoke (store, id, &error))
    {
      fprintf (stderr, "nfltr-relay agents revoke: %s\n", error->message);
      return 1;
    }
  printf ("revoked enrolled agent %" G_GINT64_FORMAT "; a running relay disconnects it within "
          "seconds and refuses it from then on\n", id);
  return 0;
}
