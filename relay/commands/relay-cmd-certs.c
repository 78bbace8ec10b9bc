/* relay-cmd-certs.c — `nfltr-relay certs list|revoke SERIAL`: agents' client certificates */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "relay-types.h"
#include "auth/relay-agent-ca.h"
#include "store/relay-store.h"

#include <stdio.h>
#include <string.h>

static int
certs_list (RelayStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) certs = relay_store_cert_list (store, &error);

  if (certs == NULL)
    {
      fprintf (stderr, "nfltr-relay certs list: %s\n", error->message);
      return 1;
    }
  printf ("%-34s %-9s %-32s %-12s %-21s %s\n", "SERIAL", "ISSUER", "AGENT", "PREFIX", "SEEN", "STATUS");
  for (guint i = 0; i < certs->len; i++)
    {
      RelayCertInfo *c = certs->pdata[i];
      g_autofree char *status = c->revoked ? g_strdup_printf ("revoked %s", c->revoked)
                                : g_strdup (c->active ? "active" : "revoked (its key or enrolment)");

      printf ("%-34s %-9s %-32s %-12s %-21s %s\n", c->serial, c->issuer, c->agent_id ? c->agent_id : "-",
              c->prefix && *c->prefix ? c->prefix : "-", c->created, status);
    }
  return 0;
}

int
relay_cmd_certs (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  const GOptionEntry entries[] = { { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
                                     "relay.db location (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
                                   { NULL } };
  const char *usage = "list|revoke SERIAL - agents' client certificates (mTLS)";
  g_autoptr (GError) error = NULL;
  g_autoptr (RelayStore) store = NULL;
  g_autofree char *serial = NULL;
  const char *verb;

  if (!relay_cmd_parse_options ("certs", usage, entries, &argc, &argv))
    return 2;
  verb = argc >= 2 ? argv[1] : NULL;
  if (verb == NULL || (strcmp (verb, "revoke") == 0 ? argc != 3 : argc != 2) ||
      !(strcmp (verb, "list") == 0 || strcmp (verb, "revoke") == 0))
    {
      fprintf (stderr, "Usage: nfltr-relay certs list | revoke SERIAL  [--data-dir DIR]\n");
      return 2;
    }
  relay_cmd_default_data_dir (&data_dir);
  store = relay_store_open (data_dir, &error);
  if (store == NULL)
    {
      fprintf (stderr, "nfltr-relay certs: %s\n", error->message);
      return 1;
    }
  if (strcmp (verb, "list") == 0)
    return certs_list (store);
  serial = relay_agent_ca_normalize_serial (argv[2]);
  if (serial == NULL)
    {
      fprintf (stderr, "nfltr-relay certs revoke: “%s” is not a serial number (hex, ':' allowed)\n", argv[2]);
      return 2;
    }
  if (!relay_store_cert_revoke (store, serial, &error))
    {
      fprintf (stderr, "nfltr-relay certs revoke: %s\n", error->message);
      return 1;
    }
  printf ("revoked client certificate %s; a running relay disconnects the agent using it within "
          "seconds and refuses it from then on\n", serial);
  return 0;
}
