/* test-a2a-audit-log.c — `nfltr audit verify` on a conversation log (docs/protocol.md §13.6):
 * a log made as the service makes it, then modified, dropped, injected, reordered and
 * truncated; each is caught and the first bad frame named. */
#include "nfltr-a2a-audit-log.h"
#include "nfltr-a2a-proto.h"
#include "nfltr-audit-checkpoint.h"

#include <sodium.h>
#include <string.h>

#define N 6

typedef struct {
  GPtrArray *lines;      /* the log's lines, header first */
  GString   *checkpoints;
} Log;

static char *
hex32 (const guint8 *b)
{
  char out[65];

  sodium_bin2hex (out, sizeof out, b, 32);
  return g_strdup (out);
}

/* N messages in direction 0, a checkpoint signed by the receiver after each. */
static void
make_log (Log *log)
{
  guint8 context[32], head[32], seed[32];
  NfltrA2aIdentity peer;
  g_autofree char *ctx = NULL;

  memset (context, 0x42, 32);
  memcpy (head, context, 32);
  memset (seed, 5, 32);
  g_assert_true (nfltr_a2a_identity_from_seed (&peer, seed, NULL));
  ctx = hex32 (context);
  log->lines = g_ptr_array_new_with_free_func (g_free);
  log->checkpoints = g_string_new (NULL);
  g_ptr_array_add (log->lines,
                   g_strdup_printf ("{\"nfltr-audit\":\"a2a-v1\",\"context\":\"%s\",\"agent-0\":\"%s\","
                                    "\"agent-1\":\"%s\"}",
                                    ctx, "0000", "ffff"));
  for (guint n = 1; n <= N; n++)
    {
      g_autofree char *rec = g_strdup_printf ("envelope %u", n);
      guint8 content[32];
      g_autofree char *c = NULL;
      g_autofree char *l = NULL;
      NfltrAuditCheckpoint cp = { 0 };
      g_autofree char *text = NULL;

      crypto_hash_sha256 (content, (const guint8 *) rec, strlen (rec));
      nfltr_audit_chain_next (head, n, 0, (const guint8 *) rec, strlen (rec), head);
      c = hex32 (content);
      l = hex32 (head);
      g_ptr_array_add (log->lines,
                       g_strdup_printf ("{\"n\":%u,\"dir\":0,\"from\":\"0000\",\"msg\":\"00\",\"len\":%zu,"
                                        "\"sha256\":\"%s\",\"link\":\"%s\"}",
                                        n, strlen (rec), c, l));
      memcpy (cp.context, context, 32);
      cp.direction = 0;
      cp.count = n;
      memcpy (cp.head, head, 32);
      nfltr_audit_checkpoint_sign (&cp, peer.ed_sk);
      text = nfltr_audit_checkpoint_to_text (&cp);
      g_string_append_printf (log->checkpoints, "%s\n", text);
    }
}

static char *
join (GPtrArray *lines)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < lines->len; i++)
    g_string_append_printf (s, "%s\n", (const char *) lines->pdata[i]);
  return g_string_free (s, FALSE);
}

/* The error message verify gives for lines (NULL when it passes). */
static char *
verify (GPtrArray *lines, const char *checkpoints)
{
  g_autofree char *text = join (lines);
  g_autoptr(GString) report = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  if (nfltr_a2a_audit_verify (text, strlen (text), checkpoints, checkpoints ? strlen (checkpoints) : 0, report,
                              &error))
    return NULL;
  return g_strdup (error->message);
}

static void
log_clear (Log *log)
{
  g_ptr_array_unref (log->lines);
  g_string_free (log->checkpoints, TRUE);
}

static void
test_intact (void)
{
  Log log;
  g_autofree char *msg = NULL;

  make_log (&log);
  msg = verify (log.lines, log.checkpoints->str);
  g_assert_null (msg);
  log_clear (&log);
}

static void
test_truncated (void)
{
  Log log;
  g_autofree char *msg = NULL;
  g_autofree char *alone = NULL;

  make_log (&log);
  g_ptr_array_remove_range (log.lines, log.lines->len - 2, 2);
  alone = verify (log.lines, NULL);
  g_assert_null (alone);   /* on its own, a cut log still chains */
  msg = verify (log.lines, log.checkpoints->str);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "truncated"));
  g_assert_nonnull (strstr (msg, "frame 5 "));
  log_clear (&log);
}

static void
test_dropped (void)
{
  Log log;
  g_autofree char *msg = NULL;

  make_log (&log);
  g_ptr_array_remove_index (log.lines, 3);   /* frame 3 */
  msg = verify (log.lines, NULL);
  g_assert_nonnull (strstr (msg, "frame 3 "));
  g_assert_nonnull (strstr (msg, "dropped"));
  log_clear (&log);
}

static void
test_reordered (void)
{
  Log log;
  g_autofree char *msg = NULL;
  gpointer tmp;

  make_log (&log);
  tmp = log.lines->pdata[2];
  log.lines->pdata[2] = log.lines->pdata[3];
  log.lines->pdata[3] = tmp;
  msg = verify (log.lines, NULL);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "frame 2 "));
  log_clear (&log);
}

static void
test_injected (void)
{
  Log log;
  g_autofree char *msg = NULL;

  make_log (&log);
  g_ptr_array_insert (log.lines, 3, g_strdup (log.lines->pdata[2]));   /* frame 2 again */
  msg = verify (log.lines, NULL);
  g_assert_nonnull (strstr (msg, "frame 2 "));
  g_assert_nonnull (strstr (msg, "injected"));
  log_clear (&log);
}

/* A forger who recomputes every link after the change passes the log's own check; the
 * peer's signatures name the frame. */
static void
test_modified_and_rechained (void)
{
  Log log;
  g_autofree char *msg = NULL;
  guint8 context[32], head[32];

  make_log (&log);
  memset (context, 0x42, 32);
  memcpy (head, context, 32);
  for (guint n = 1; n <= N; n++)
    {
      g_autofree char *rec = g_strdup_printf (n == 4 ? "forged %u" : "envelope %u", n);
      guint8 content[32];
      g_autofree char *c = NULL;
      g_autofree char *l = NULL;

      crypto_hash_sha256 (content, (const guint8 *) rec, strlen (rec));
      nfltr_audit_chain_next (head, n, 0, (const guint8 *) rec, strlen (rec), head);
      c = hex32 (content);
      l = hex32 (head);
      g_free (log.lines->pdata[n]);
      log.lines->pdata[n] =
        g_strdup_printf ("{\"n\":%u,\"dir\":0,\"from\":\"0000\",\"msg\":\"00\",\"len\":%zu,"
                         "\"sha256\":\"%s\",\"link\":\"%s\"}",
                         n, strlen (rec), c, l);
    }
  g_assert_null (verify (log.lines, NULL));
  msg = verify (log.lines, log.checkpoints->str);
  g_assert_nonnull (strstr (msg, "frame 4 "));
  g_assert_nonnull (strstr (msg, "modified"));
  log_clear (&log);
}

static void
test_forged_checkpoint (void)
{
  Log log;
  g_autofree char *msg = NULL;
  g_autofree char *cps = NULL;

  make_log (&log);
  cps = g_strdup (log.checkpoints->str);
  cps[40] = cps[40] == 'A' ? 'B' : 'A';
  msg = verify (log.lines, cps);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "checkpoint 1"));
  log_clear (&log);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_assert_cmpint (sodium_init (), >=, 0);
  g_test_add_func ("/a2a-audit/intact", test_intact);
  g_test_add_func ("/a2a-audit/truncated", test_truncated);
  g_test_add_func ("/a2a-audit/dropped", test_dropped);
  g_test_add_func ("/a2a-audit/reordered", test_reordered);
  g_test_add_func ("/a2a-audit/injected", test_injected);
  g_test_add_func ("/a2a-audit/modified", test_modified_and_rechained);
  g_test_add_func ("/a2a-audit/forged-checkpoint", test_forged_checkpoint);
  return g_test_run ();
}
