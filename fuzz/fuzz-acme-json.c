/* fuzz-acme-json.c — the agent's parsers of an ACME CA's JSON answers (service/acme/,
 * RFC 8555 §7.1) and of its problem documents (RFC 7807): anything in, either a parsed object
 * whose required fields are there, or an error; the problem's words never hold a control
 * character. */
#include "nfltr-acme-json.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_text (const char *s)
{
  for (const char *p = s; p != NULL && *p != '\0'; p++)
    g_assert ((guchar) *p >= 0x20 || *p == '\0');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL, e5 = NULL;
  g_autoptr(NfltrAcmeDirectory) dir = nfltr_acme_directory_parse (text, size, &e1);
  g_autoptr(NfltrAcmeOrder) order = nfltr_acme_order_parse (text, size, &e2);
  g_autoptr(NfltrAcmeAuthorization) authz = nfltr_acme_authorization_parse (text, size, &e3);
  g_autoptr(NfltrAcmeProblem) problem = nfltr_acme_problem_parse (text, size, &e4);

  nfltr_acme_object_status_parse (text, size, &e5);
  g_assert ((dir == NULL) == (e1 != NULL));
  g_assert ((order == NULL) == (e2 != NULL));
  g_assert ((authz == NULL) == (e3 != NULL));
  g_assert ((problem == NULL) == (e4 != NULL));
  if (dir != NULL)
    g_assert (*dir->new_nonce && *dir->new_account && *dir->new_order);
  if (order != NULL)
    {
      g_assert (order->authorizations != NULL && order->finalize != NULL);
      g_assert (order->status != NFLTR_ACME_STATUS_UNKNOWN);
      if (order->error != NULL)
        g_free (nfltr_acme_problem_to_message (order->error));
    }
  if (authz != NULL)
    {
      g_assert (authz->identifier != NULL);
      for (guint i = 0; i < authz->challenges->len; i++)
        {
          NfltrAcmeChallenge *c = g_ptr_array_index (authz->challenges, i);

          g_assert (c->type != NULL && c->url != NULL);
          if (c->error != NULL)
            g_free (nfltr_acme_problem_to_message (c->error));
        }
      nfltr_acme_authorization_find (authz, "tls-alpn-01");
    }
  if (problem != NULL)
    {
      g_autofree char *words = nfltr_acme_problem_to_message (problem);

      g_assert (words != NULL && *words != '\0');
      check_text (words);
      g_assert (strlen (words) < 4096);
    }
  return 0;
}
