/* relay-cmd-signing-key.c — `nfltr-relay signing-key`: the Ed25519 key proof bundles are
 * signed with, which agents pin at login (docs/security.md "Proof") */
#define G_LOG_DOMAIN "nfltr-relay"

#include "commands/relay-commands.h"
#include "relay-proof.h"
#include "nfltr-proof-bundle.h"

#include <stdio.h>
#include <string.h>

int
relay_cmd_signing_key (int argc, char **argv)
{
  g_autofree char *data_dir = NULL;
  const GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "Where the key is (default $XDG_DATA_HOME/nfltr-relay)", "DIR" },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *public_text = NULL;
  guint8 secret_key[NFLTR_PROOF_SECRET_KEY_SIZE];

  if (!relay_cmd_parse_options ("signing-key", "- print the relay's proof signing key", entries, &argc, &argv))
    return 2;
  relay_cmd_default_data_dir (&data_dir);
  /* Created here if the relay never ran, so the value can be handed out before the first start. */
  if (!relay_proof_signing_key_load (data_dir, secret_key, &public_text, &error))
    {
      fprintf (stderr, "nfltr-relay signing-key: %s\n", error->message);
      return 1;
    }
  memset (secret_key, 0, sizeof secret_key);
  printf ("%s\n", public_text);
  return 0;
}
