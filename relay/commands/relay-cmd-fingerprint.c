/* relay-cmd-fingerprint.c — `nfltr-relay fingerprint`: what agents pin */
#define G_LOG_DOMAIN "nfltr-relay"

#include "relay-commands.h"
#include "relay-types.h"
#include "tls/relay-identity.h"

#include <stdio.h>

int
relay_cmd_fingerprint (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  g_autofree char *domain = NULL;
  const GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "Where the certificate is (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
    { "domain", 'd', 0, G_OPTION_ARG_STRING, &domain, "The relay's domain, for a certificate made now (default nfltr.localhost)", "DOMAIN" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayIdentity) identity = NULL;
  g_autofree char *lower = NULL;

  if (!relay_cmd_parse_options ("fingerprint", "- print the relay certificate fingerprint", entries, &argc,
                                &argv))
    return 2;
  relay_cmd_default_data_dir (&data_dir);
  lower = g_ascii_strdown (domain ? domain : NFLTR_DEFAULT_DOMAIN, -1);
  /* Same certificate the relay serves: created here if the relay never ran, so the value
   * can be handed to agents before the first start. */
  identity = relay_identity_load (data_dir, lower, &error);
  if (identity == NULL)
    {
      fprintf (stderr, "nfltr-relay fingerprint: %s\n", error->message);
      return 1;
    }
  printf ("%s\n", identity->fingerprint);
  return 0;
}
