/* nfltr-p2p-direct.c — the direct path on libnice (or none, in a build without it). */
#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-direct.h"

#include <string.h>

#ifdef NFLTR_HAVE_NICE
#include <agent.h>

struct _NfltrP2pDirect {
  NiceAgent                     *agent;
  guint                          stream_id;
  NfltrP2pDirectCallbacks        callbacks;
  gpointer                       user_data;
  GSList                        *remote;   /* NiceCandidate */
  char                          *remote_ufrag;
  char                          *remote_pwd;
  gboolean                       ready;
  gboolean                       failed;
};

gboolean
nfltr_p2p_direct_available (void)
{
  return g_getenv ("NFLTR_P2P_NO_DIRECT") == NULL;
}

static void
gathering_done_cb (NiceAgent *agent, guint stream_id, gpointer user_data)
{
  NfltrP2pDirect *direct = user_data;
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);
  GSList *locals;

  nice_agent_get_local_credentials (agent, stream_id, &ufrag, &pwd);
  locals = nice_agent_get_local_candidates (agent, stream_id, 1);
  for (GSList *l = locals; l != NULL; l = l->next)
    {
      g_autofree char *sdp = nice_agent_generate_local_candidate_sdp (agent, l->data);

      /* "a=candidate:" is SDP's wrapping, not part of the candidate (§9.2) */
      if (sdp != NULL && g_str_has_prefix (sdp, "a=candidate:"))
        g_ptr_array_add (candidates, g_strdup (sdp + strlen ("a=candidate:")));
    }
  g_slist_free_full (locals, (GDestroyNotify) nice_candidate_free);
  direct->callbacks.gathered (direct, ufrag, pwd, candidates, direct->user_data);
}

static void
component_state_cb (NiceAgent *agent, guint stream_id, guint component_id, guint state, gpointer user_data)
{
  NfltrP2pDirect *direct = user_data;

  if (state == NICE_COMPONENT_STATE_READY && !direct->ready)
    {
      direct->ready = TRUE;
      direct->callbacks.state (direct, TRUE, direct->user_data);
    }
  else if (state == NICE_COMPONENT_STATE_FAILED && !direct->failed)
    {
      direct->failed = TRUE;
      direct->ready = FALSE;
      direct->callbacks.state (direct, FALSE, direct->user_data);
    }
}

static void
writable_cb (NiceAgent *agent, guint stream_id, guint component_id, gpointer user_data)
{
  NfltrP2pDirect *direct = user_data;

  direct->callbacks.writable (direct, direct->user_data);
}

static void
recv_cb (NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf, gpointer user_data)
{
  NfltrP2pDirect *direct = user_data;

  direct->callbacks.received (direct, (const guint8 *) buf, len, direct->user_data);
}

NfltrP2pDirect *
nfltr_p2p_direct_new (gboolean                       controlling,
                      const char                    *stun,
                      const NfltrP2pDirectCallbacks *callbacks,
                      gpointer                       user_data)
{
  NfltrP2pDirect *direct = g_new0 (NfltrP2pDirect, 1);
  const char *only = g_getenv ("NFLTR_P2P_LOCAL_ADDRESS");

  direct->callbacks = *callbacks;
  direct->user_data = user_data;
  direct->agent = nice_agent_new_reliable (g_main_context_default (), NICE_COMPATIBILITY_RFC5245);
  g_object_set (direct->agent, "controlling-mode", controlling, "ice-tcp", FALSE, "upnp", FALSE, NULL);
  if (stun != NULL)
    {
      g_autofree char *host = NULL;
      const char *colon = strrchr (stun, ':');

      if (colon != NULL)
        {
          host = g_strndup (stun, colon - stun);
          g_object_set (direct->agent, "stun-server", host, "stun-server-port", (guint) atoi (colon + 1), NULL);
        }
    }
  /* Tests (and users who want one interface) pin the local address; else every interface. */
  if (only != NULL)
    {
      NiceAddress addr;

      nice_address_init (&addr);
      if (nice_address_set_from_string (&addr, only))
        nice_agent_add_local_address (direct->agent, &addr);
    }
  direct->stream_id = nice_agent_add_stream (direct->agent, 1);
  g_signal_connect (direct->agent, "candidate-gathering-done", G_CALLBACK (gathering_done_cb), direct);
  g_signal_connect (direct->agent, "component-state-changed", G_CALLBACK (component_state_cb), direct);
  g_signal_connect (direct->agent, "reliable-transport-writable", G_CALLBACK (writable_cb), direct);
  nice_agent_attach_recv (direct->agent, direct->stream_id, 1, g_main_context_default (), recv_cb, direct);
  nice_agent_gather_candidates (direct->agent, direct->stream_id);
  return direct;
}

void
nfltr_p2p_direct_free (NfltrP2pDirect *direct)
{
  if (direct == NULL)
    return;
  g_signal_handlers_disconnect_by_data (direct->agent, direct);
  nice_agent_attach_recv (direct->agent, direct->stream_id, 1, g_main_context_default (), NULL, NULL);
  nice_agent_remove_stream (direct->agent, direct->stream_id);
  g_object_unref (direct->agent);
  g_slist_free_full (direct->remote, (GDestroyNotify) nice_candidate_free);
  g_free (direct->remote_ufrag);
  g_free (direct->remote_pwd);
  g_free (direct);
}

void
nfltr_p2p_direct_set_remote_credentials (NfltrP2pDirect *direct, const char *ufrag, const char *pwd)
{
  g_free (direct->remote_ufrag);
  g_free (direct->remote_pwd);
  direct->remote_ufrag = g_strdup (ufrag);
  direct->remote_pwd = g_strdup (pwd);
}

void
nfltr_p2p_direct_add_remote_candidate (NfltrP2pDirect *direct, const char *candidate)
{
  g_autofree char *sdp = g_strconcat ("a=candidate:", candidate, NULL);
  NiceCandidate *c = nice_agent_parse_remote_candidate_sdp (direct->agent, direct->stream_id, sdp);

  if (c != NULL)
    direct->remote = g_slist_append (direct->remote, c);
}

void
nfltr_p2p_direct_remote_done (NfltrP2pDirect *direct)
{
  if (direct->remote_ufrag == NULL || direct->remote == NULL)
    {
      /* Nothing to check against: the direct path failed before it began. */
      direct->failed = TRUE;
      direct->callbacks.state (direct, FALSE, direct->user_data);
      return;
    }
  nice_agent_set_remote_credentials (direct->agent, direct->stream_id, direct->remote_ufrag, direct->remote_pwd);
  nice_agent_set_remote_candidates (direct->agent, direct->stream_id, 1, direct->remote);
}

gboolean
nfltr_p2p_direct_is_ready (NfltrP2pDirect *direct)
{
  return direct != NULL && direct->ready;
}

gssize
nfltr_p2p_direct_send (NfltrP2pDirect *direct, const guint8 *data, gsize len)
{
  gint sent;

  if (!direct->ready)
    return -1;
  sent = nice_agent_send (direct->agent, direct->stream_id, 1, MIN (len, 65536), (const char *) data);
  return sent < 0 ? 0 : sent;
}

#else /* !NFLTR_HAVE_NICE */

gboolean
nfltr_p2p_direct_available (void)
{
  return FALSE;
}

NfltrP2pDirect *
nfltr_p2p_direct_new (gboolean controlling, const char *stun, const NfltrP2pDirectCallbacks *callbacks,
                      gpointer user_data)
{
  return NULL;
}

void
nfltr_p2p_direct_free (NfltrP2pDirect *direct)
{
}
void
nfltr_p2p_direct_set_remote_credentials (NfltrP2pDirect *direct, const char *ufrag, const char *pwd)
{
}
void
nfltr_p2p_direct_add_remote_candidate (NfltrP2pDirect *direct, const char *candidate)
{
}
void
nfltr_p2p_direct_remote_done (NfltrP2pDirect *direct)
{
}
gboolean
nfltr_p2p_direct_is_ready (NfltrP2pDirect *direct)
{
  return FALSE;
}
gssize
nfltr_p2p_direct_send (NfltrP2pDirect *direct, const guint8 *data, gsize len)
{
  return -1;
}

#endif
