/* test-p2p-checkpoint.c — signed checkpoints over a P2P session's audit chain (issue 15): the
 * peer's signed head agrees with an intact chain, and a truncated or altered one fails. */
#include "nfltr-p2p-checkpoint.h"

#include <sodium.h>
#include <string.h>

static NfltrP2pAuditChain *
chain_of (guint n, const char *tweak_at)
{
  guint8 th[32];
  NfltrP2pAuditChain *chain;

  memset (th, 0x5a, sizeof th);
  chain = nfltr_p2p_audit_chain_new (NFLTR_P2P_DIR_A_TO_B, th);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *rec = g_strdup_printf ("%s %u", tweak_at && i == 3 ? tweak_at : "record", i);

      nfltr_p2p_audit_chain_append (chain, i, (const guint8 *) rec, strlen (rec));
    }
  return chain;
}

static void
test_sign_and_check (void)
{
  guint8 pk[32], sk[64];
  g_autoptr(NfltrP2pAuditChain) sender = chain_of (8, NULL);
  g_autoptr(NfltrP2pAuditChain) same = chain_of (8, NULL);
  g_autoptr(NfltrP2pAuditChain) cut = chain_of (6, NULL);
  g_autoptr(NfltrP2pAuditChain) altered = chain_of (8, "forged");
  NfltrAuditCheckpoint cp;
  g_autoptr(GError) error = NULL;
  guint8 other[32];

  crypto_sign_keypair (pk, sk);
  nfltr_p2p_checkpoint_sign (sender, 0, sk, &cp);
  g_assert_cmpuint (cp.count, ==, 8);
  g_assert_true (nfltr_p2p_checkpoint_check (same, &cp, pk, &error));
  g_assert_no_error (error);
  g_assert_false (nfltr_p2p_checkpoint_check (cut, &cp, pk, &error));
  g_assert_nonnull (strstr (error->message, "truncated: frame 7 "));
  g_clear_error (&error);
  g_assert_false (nfltr_p2p_checkpoint_check (altered, &cp, pk, &error));
  g_assert_nonnull (strstr (error->message, "not what the peer signed"));
  g_clear_error (&error);
  memset (other, 1, sizeof other);
  g_assert_false (nfltr_p2p_checkpoint_check (same, &cp, other, &error));
  g_clear_error (&error);
  /* A checkpoint made mid-session covers fewer frames and still agrees. */
  nfltr_p2p_checkpoint_sign (sender, 3, sk, &cp);
  g_assert_true (nfltr_p2p_checkpoint_check (altered, &cp, pk, NULL));
  g_assert_true (nfltr_p2p_checkpoint_check (cut, &cp, pk, NULL));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);
  g_test_add_func ("/p2p-checkpoint/sign-and-check", test_sign_and_check);
  return g_test_run ();
}
