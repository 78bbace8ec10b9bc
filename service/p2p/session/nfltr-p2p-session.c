/* nfltr-p2p-session.c — records, mux and audit glued together, without I/O. */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-session.h"
#include "nfltr-p2p-error.h"

#include <string.h>

struct _NfltrP2pSession {
  NfltrP2pRole          role;
  NfltrP2pRecordDir     send;
  NfltrP2pRecordDir     recv;
  NfltrP2pMux          *mux;
  NfltrP2pMuxCallbacks  app;
  gpointer              app_data;
  NfltrP2pAuditChain   *chains[2];
  GByteArray           *inbuf;
  GByteArray           *plain;
  GByteArray           *frame;
  gboolean              failed;
  gboolean              unframed;   /* the stream lost its framing: nothing more to audit */
  guint                 commits_checked;
  guint                 commits_mismatched;
};

static void
commit_cb (NfltrP2pMux  *mux,
           const guint8 *data,
           gsize         len,
           gpointer      user_data)
{
  NfltrP2pSession *session = user_data;
  NfltrP2pCommitment c;

  if (!nfltr_p2p_commitment_decode (data, len, &c, NULL))
    {
      session->commits_mismatched++;
      return;
    }
  session->commits_checked++;
  if (!nfltr_p2p_audit_chain_check (session->chains[c.direction], &c))
    session->commits_mismatched++;
  if (session->app.commit != NULL)
    session->app.commit (mux, data, len, session->app_data);
}

/* The mux calls back with the session; these hand each event on with the application's
 * own user data. */
static void
opened_cb (NfltrP2pMux       *mux,
           guint32            stream,
           NfltrP2pStreamKind kind,
           gpointer           user_data)
{
  NfltrP2pSession *session = user_data;

  if (session->app.opened != NULL)
    session->app.opened (mux, stream, kind, session->app_data);
}

static void
data_cb (NfltrP2pMux  *mux,
         guint32       stream,
         const guint8 *data,
         gsize         len,
         gpointer      user_data)
{
  NfltrP2pSession *session = user_data;

  if (session->app.data != NULL)
    session->app.data (mux, stream, data, len, session->app_data);
}

static void
finished_cb (NfltrP2pMux *mux,
             guint32      stream,
             gpointer     user_data)
{
  NfltrP2pSession *session = user_data;

  if (session->app.finished != NULL)
    session->app.finished (mux, stream, session->app_data);
}

static void
reset_cb (NfltrP2pMux *mux,
          guint32      stream,
          guint8       reason,
          gpointer     user_data)
{
  NfltrP2pSession *session = user_data;

  if (session->app.reset != NULL)
    session->app.reset (mux, stream, reason, session->app_data);
}

static const NfltrP2pMuxCallbacks session_callbacks = {
  .opened = opened_cb,
  .data = data_cb,
  .finished = finished_cb,
  .reset = reset_cb,
  .commit = commit_cb,
};

NfltrP2pSession *
nfltr_p2p_session_new (NfltrP2pRole                role,
                       const NfltrP2pKeys         *keys,
                       const NfltrP2pMuxCallbacks *callbacks,
                       gpointer                    user_data)
{
  NfltrP2pSession *session = g_new0 (NfltrP2pSession, 1);
  gboolean a = role == NFLTR_P2P_ROLE_A;

  session->role = role;
  nfltr_p2p_record_dir_init (&session->send, a ? keys->a_to_b_enc : keys->b_to_a_enc,
                             a ? keys->a_to_b_mac : keys->b_to_a_mac);
  nfltr_p2p_record_dir_init (&session->recv, a ? keys->b_to_a_enc : keys->a_to_b_enc,
                             a ? keys->b_to_a_mac : keys->a_to_b_mac);
  if (callbacks != NULL)
    session->app = *callbacks;
  session->app_data = user_data;
  session->mux = nfltr_p2p_mux_new (role, &session_callbacks, session);
  session->chains[NFLTR_P2P_DIR_A_TO_B] = nfltr_p2p_audit_chain_new (NFLTR_P2P_DIR_A_TO_B, keys->transcript);
  session->chains[NFLTR_P2P_DIR_B_TO_A] = nfltr_p2p_audit_chain_new (NFLTR_P2P_DIR_B_TO_A, keys->transcript);
  session->inbuf = g_byte_array_new ();
  session->plain = g_byte_array_new ();
  session->frame = g_byte_array_new ();
  return session;
}

void
nfltr_p2p_session_free (NfltrP2pSession *session)
{
  if (session == NULL)
    return;
  nfltr_p2p_record_dir_clear (&session->send);
  nfltr_p2p_record_dir_clear (&session->recv);
  nfltr_p2p_mux_free (session->mux);
  nfltr_p2p_audit_chain_free (session->chains[0]);
  nfltr_p2p_audit_chain_free (session->chains[1]);
  g_byte_array_unref (session->inbuf);
  g_byte_array_unref (session->plain);
  g_byte_array_unref (session->frame);
  g_free (session);
}

NfltrP2pMux *
nfltr_p2p_session_get_mux (NfltrP2pSession *session)
{
  return session->mux;
}

NfltrP2pAuditChain *
nfltr_p2p_session_get_chain (NfltrP2pSession  *session,
                             NfltrP2pDirection direction)
{
  return session->chains[direction];
}

static NfltrP2pDirection
sent_direction (NfltrP2pSession *session)
{
  return session->role == NFLTR_P2P_ROLE_A ? NFLTR_P2P_DIR_A_TO_B : NFLTR_P2P_DIR_B_TO_A;
}

gboolean
nfltr_p2p_session_pull (NfltrP2pSession *session,
                        GByteArray      *wire,
                        gsize            max_bytes,
                        GError         **error)
{
  NfltrP2pAuditChain *chain = session->chains[sent_direction (session)];

  if (session->failed)
    {
      g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED, "the session is closed: %s",
                   session->recv.failure != NULL ? session->recv.failure : "it failed");
      return FALSE;
    }
  while (wire->len < max_bytes && nfltr_p2p_mux_next (session->mux, session->frame))
    {
      guint start = wire->len;
      guint64 seq = session->send.seq;

      if (!nfltr_p2p_record_seal (&session->send, session->frame->data, session->frame->len, wire, error))
        {
          session->failed = TRUE;
          return FALSE;
        }
      nfltr_p2p_audit_chain_append (chain, seq, wire->data + start, wire->len - start);
    }
  return TRUE;
}

gboolean
nfltr_p2p_session_push (NfltrP2pSession *session,
                        const guint8    *data,
                        gsize            len,
                        GError         **error)
{
  NfltrP2pAuditChain *chain = session->chains[1 - sent_direction (session)];
  gboolean was_failed = session->failed;
  g_autoptr(GError) first = NULL;
  gsize off = 0;

  if (session->unframed)
    goto closed;
  g_byte_array_append (session->inbuf, data, len);
  while (session->inbuf->len - off >= NFLTR_P2P_RECORD_HEADER)
    {
      const guint8 *record = session->inbuf->data + off;
      guint32 body_be, body;
      gsize total;

      memcpy (&body_be, record + 8, 4);
      body = GUINT32_FROM_BE (body_be);
      if (body > NFLTR_P2P_RECORD_MAX_PLAINTEXT)
        {
          /* Without a believable length the stream cannot be cut into records any more,
           * for the session or for the audit. */
          session->unframed = TRUE;
          if (!session->failed)
            g_set_error (&first, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED,
                         "frame %" G_GUINT64_FORMAT
                         " claims %u bytes, over the limit of %d: the session is closed",
                         nfltr_p2p_record_claimed_seq (record), body, NFLTR_P2P_RECORD_MAX_PLAINTEXT);
          session->failed = TRUE;
          break;
        }
      total = NFLTR_P2P_RECORD_OVERHEAD + body;
      if (session->inbuf->len - off < total)
        break;
      nfltr_p2p_audit_chain_append (chain, nfltr_p2p_record_claimed_seq (record), record, total);
      off += total;
      if (session->failed)
        continue;
      if (!nfltr_p2p_record_open (&session->recv, record, total, session->plain, &first)
          || !nfltr_p2p_mux_receive (session->mux, session->plain->data, session->plain->len, &first))
        session->failed = TRUE;
    }
  g_byte_array_remove_range (session->inbuf, 0, off);
  if (first != NULL)
    {
      if (session->recv.failure == NULL)
        session->recv.failure = g_strdup (first->message);
      g_propagate_error (error, g_steal_pointer (&first));
      return FALSE;
    }
  if (!was_failed && !session->failed)
    return TRUE;

closed:
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED, "the session is closed: %s",
               session->recv.failure != NULL ? session->recv.failure : "it failed");
  return FALSE;
}

void
nfltr_p2p_session_commit (NfltrP2pSession *session)
{
  for (int d = 0; d < 2; d++)
    {
      NfltrP2pCommitment c;
      guint8 buf[NFLTR_P2P_COMMITMENT_BYTES];

      nfltr_p2p_audit_chain_commit (session->chains[d], &c);
      nfltr_p2p_commitment_encode (&c, buf);
      nfltr_p2p_mux_send_commit (session->mux, buf, sizeof buf);
    }
}

void
nfltr_p2p_session_get_commit_results (NfltrP2pSession *session,
                                      guint           *checked,
                                      guint           *mismatched)
{
  if (checked != NULL)
    *checked = session->commits_checked;
  if (mismatched != NULL)
    *mismatched = session->commits_mismatched;
}
