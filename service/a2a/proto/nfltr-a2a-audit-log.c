/* nfltr-a2a-audit-log.c — verifying a conversation log against signed checkpoints. */
#define G_LOG_DOMAIN "nfltr-a2a"

#include "nfltr-a2a-audit-log.h"
#include "nfltr-audit-checkpoint.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

/* Lines longer than this are not log lines (a log line is about 250 bytes). */
#define MAX_LINE 4096

typedef struct {
  GArray *links;   /* guint8[32] per frame, index n - 1 */
} Dir;

static gboolean
unhex32 (const char *text, guint8 out[32])
{
  size_t n = 0;

  return text != NULL && strlen (text) == 64 && sodium_hex2bin (out, 32, text, 64, NULL, &n, NULL) == 0 &&
         n == 32;
}

static gboolean fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, NFLTR_AUDIT_ERROR, NFLTR_AUDIT_ERROR_MALFORMED, msg);
  return FALSE;
}

static const char *
dir_label (guint dir, const char *a0, const char *a1)
{
  static char buf[2][64];

  g_snprintf (buf[dir], sizeof buf[dir], "%.8s… → %.8s…", dir == 0 ? a0 : a1, dir == 0 ? a1 : a0);
  return buf[dir];
}

gboolean
nfltr_a2a_audit_verify (const char *log, gsize log_len, const char *checkpoints, gsize checkpoints_len,
                        GString *report, GError **error)
{
  g_autofree char *copy = g_strndup (log, log_len);
  g_auto(GStrv) lines = g_strsplit (copy, "\n", -1);
  guint8 context[32];
  g_autofree char *a0 = NULL;
  g_autofree char *a1 = NULL;
  gboolean have_header = FALSE;
  Dir dirs[2];
  guint checked = 0;
  gboolean ok = FALSE;

  if (sodium_init () < 0)
    return fail (error, "libsodium failed to initialise");
  for (guint d = 0; d < 2; d++)
    dirs[d].links = g_array_new (FALSE, FALSE, 32);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *o;
      const char *line = lines[i];

      if (*line == '\0')
        continue;
      if (strlen (line) > MAX_LINE || !json_parser_load_from_data (parser, line, -1, NULL) ||
          !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          fail (error, "line %u of the log is not a log entry", i + 1);
          goto out;
        }
      o = json_node_get_object (json_parser_get_root (parser));
      if (!have_header)
        {
          if (g_strcmp0 (json_object_get_string_member_with_default (o, "nfltr-audit", ""), "a2a-v1") != 0 ||
              !unhex32 (json_object_get_string_member_with_default (o, "context", ""), context))
            {
              fail (error, "not an a2a conversation log (no “nfltr-audit”: “a2a-v1” header on line %u)", i + 1);
              goto out;
            }
          a0 = g_strdup (json_object_get_string_member_with_default (o, "agent-0", "?"));
          a1 = g_strdup (json_object_get_string_member_with_default (o, "agent-1", "?"));
          have_header = TRUE;
          continue;
        }
      {
        gint64 n = json_object_get_int_member_with_default (o, "n", -1);
        gint64 dir = json_object_get_int_member_with_default (o, "dir", -1);
        gint64 len = json_object_get_int_member_with_default (o, "len", -1);
        guint8 content[32], link[32], want[32];
        const guint8 *prev;
        guint64 expected;

        if ((dir != 0 && dir != 1) || n < 1 || len < 0 || len > G_MAXUINT32 ||
            !unhex32 (json_object_get_string_member_with_default (o, "sha256", ""), content) ||
            !unhex32 (json_object_get_string_member_with_default (o, "link", ""), link))
          {
            fail (error, "line %u of the log is not a frame entry", i + 1);
            goto out;
          }
        expected = dirs[dir].links->len + 1;
        if ((guint64) n > expected)
          {
            fail (error,
                  "frame %" G_GUINT64_FORMAT " (%s) is missing: the log goes from frame %" G_GUINT64_FORMAT
                  " to frame %" G_GINT64_FORMAT " — dropped",
                  expected, dir_label (dir, a0, a1), expected - 1, n);
            goto out;
          }
        if ((guint64) n < expected)
          {
            fail (error,
                  "frame %" G_GINT64_FORMAT " (%s) appears again after frame %" G_GUINT64_FORMAT
                  " — reordered or injected",
                  n, dir_label (dir, a0, a1), expected - 1);
            goto out;
          }
        prev = expected == 1 ? context : &g_array_index (dirs[dir].links, guint8, (expected - 2) * 32);
        nfltr_audit_chain_next_hashed (prev, n, (guint8) dir, content, (gsize) len, want);
        if (memcmp (want, link, 32) != 0)
          {
            fail (error,
                  "frame %" G_GINT64_FORMAT
                  " (%s) was modified: its entry does not chain from frame %" G_GINT64_FORMAT,
                  n, dir_label (dir, a0, a1), n - 1);
            goto out;
          }
        g_array_append_vals (dirs[dir].links, want, 1);
      }
    }
  if (!have_header)
    {
      fail (error, "the log is empty");
      goto out;
    }
  if (checkpoints != NULL)
    {
      g_autofree char *cp_copy = g_strndup (checkpoints, checkpoints_len);
      g_auto(GStrv) cp_lines = g_strsplit (cp_copy, "\n", -1);
      /* Per direction: the highest count that agrees, and the lowest that does not. */
      guint64 good[2] = { 0, 0 };
      guint64 bad[2] = { G_MAXUINT64, G_MAXUINT64 };
      guint64 signed_max[2] = { 0, 0 };
      g_autofree char *signer = NULL;

      for (guint i = 0; cp_lines[i] != NULL; i++)
        {
          NfltrAuditCheckpoint cp;
          g_autoptr(GError) local = NULL;
          guint64 have;

          if (*g_strstrip (cp_lines[i]) == '\0')
            continue;
          if (!nfltr_audit_checkpoint_from_text (cp_lines[i], &cp, &local) ||
              !nfltr_audit_checkpoint_verify (&cp, &local))
            {
              fail (error, "checkpoint %u: %s", i + 1, local->message);
              goto out;
            }
          if (memcmp (cp.context, context, 32) != 0)
            {
              fail (error, "checkpoint %u belongs to another conversation", i + 1);
              goto out;
            }
          if (cp.direction > 1)
            {
              fail (error, "checkpoint %u names no direction", i + 1);
              goto out;
            }
          if (signer == NULL)
            {
              guint8 digest[32];
              char hexbuf[65];

              crypto_hash_sha256 (digest, cp.signer, 32);
              sodium_bin2hex (hexbuf, sizeof hexbuf, digest, 32);
              signer = g_strconcat ("sha256:", hexbuf, NULL);
            }
          checked++;
          signed_max[cp.direction] = MAX (signed_max[cp.direction], cp.count);
          have = dirs[cp.direction].links->len;
          if (cp.count == 0)
            continue;
          if (cp.count > have ||
              memcmp (&g_array_index (dirs[cp.direction].links, guint8, (cp.count - 1) * 32), cp.head, 32) != 0)
            bad[cp.direction] = MIN (bad[cp.direction], cp.count);
          else
            good[cp.direction] = MAX (good[cp.direction], cp.count);
        }
      for (guint d = 0; d < 2; d++)
        {
          guint64 have = dirs[d].links->len;

          if (bad[d] == G_MAXUINT64)
            continue;
          if (bad[d] > have && good[d] >= have)
            {
              fail (error,
                    "truncated: frame %" G_GUINT64_FORMAT
                    " (%s) is missing — the log ends after frame %" G_GUINT64_FORMAT
                    ", but the peer (key %s) signed %" G_GUINT64_FORMAT " frames",
                    have + 1, dir_label (d, a0, a1), have, signer, signed_max[d]);
              goto out;
            }
          if (bad[d] == good[d] + 1)
            fail (error,
                  "frame %" G_GUINT64_FORMAT " (%s) is not what the peer (key %s) signed: modified, injected "
                  "or reordered",
                  bad[d], dir_label (d, a0, a1), signer);
          else
            fail (error,
                  "a frame between %" G_GUINT64_FORMAT " and %" G_GUINT64_FORMAT " (%s) is not what the peer "
                  "(key %s) signed: modified, injected or reordered",
                  good[d] + 1, bad[d], dir_label (d, a0, a1), signer);
          goto out;
        }
      g_string_append_printf (report, "%u signed checkpoint(s) from key %s agree with the log\n", checked,
                              signer ? signer : "-");
    }
  g_string_append_printf (report, "log verified: %u frame(s) %s, %u frame(s) %s\n", dirs[0].links->len,
                          dir_label (0, a0, a1), dirs[1].links->len, dir_label (1, a0, a1));
  ok = TRUE;

out:
  for (guint d = 0; d < 2; d++)
    g_array_unref (dirs[d].links);
  return ok;
}
