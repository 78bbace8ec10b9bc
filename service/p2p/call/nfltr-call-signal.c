/* nfltr-call-signal.c — parse and build the CALL stream's messages (docs/protocol.md §14.2).
 * The service checks what the peer sends before it reaches the media process, and what the
 * media process asks it to send before it enters the session. */
#define G_LOG_DOMAIN "nfltr-call"

#include "nfltr-call-signal.h"
#include "nfltr-p2p-error.h"

#include <string.h>

static const char * const type_names[] = {
  [NFLTR_CALL_SIGNAL_RING] = "ring",       [NFLTR_CALL_SIGNAL_ACCEPT] = "accept",
  [NFLTR_CALL_SIGNAL_DECLINE] = "decline", [NFLTR_CALL_SIGNAL_OFFER] = "offer",
  [NFLTR_CALL_SIGNAL_ANSWER] = "answer",   [NFLTR_CALL_SIGNAL_ICE] = "ice",
  [NFLTR_CALL_SIGNAL_BYE] = "bye",
};

const char *
nfltr_call_signal_type_name (NfltrCallSignalType type)
{
  if (type < NFLTR_CALL_SIGNAL_RING || type > NFLTR_CALL_SIGNAL_BYE)
    return "unknown";
  return type_names[type];
}

NfltrCallSignal *
nfltr_call_signal_new (NfltrCallSignalType type)
{
  NfltrCallSignal *signal = g_new0 (NfltrCallSignal, 1);

  signal->type = type;
  return signal;
}

void
nfltr_call_signal_free (NfltrCallSignal *signal)
{
  if (signal == NULL)
    return;
  g_free (signal->sdp);
  g_free (signal->candidate);
  g_free (signal->reason);
  g_free (signal);
}

/* SDP is US-ASCII text lines (RFC 8866 §5: UTF-8 is allowed only in a few fields webrtcbin
 * never fills); a candidate is printable ASCII (RFC 8839 §5.1). */
static gboolean
is_text (const char *s, gboolean lines)
{
  for (const guchar *p = (const guchar *) s; *p != '\0'; p++)
    {
      if (lines && (*p == '\r' || *p == '\n'))
        continue;
      if (*p < 0x20 || *p > 0x7e)
        return FALSE;
    }
  return TRUE;
}

static const char *
string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
malformed (GError **error, const char *what)
{
  g_set_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED, "the peer's call message is malformed: %s", what);
  return FALSE;
}

static gboolean
take_reason (JsonObject *object, NfltrCallSignal *signal, GError **error)
{
  const char *reason;

  if (!json_object_has_member (object, "reason"))
    return TRUE;
  reason = string_member (object, "reason");
  if (reason == NULL || strlen (reason) > NFLTR_CALL_REASON_MAX || !g_utf8_validate (reason, -1, NULL))
    return malformed (error, "reason");
  signal->reason = g_strdup (reason);
  return TRUE;
}

NfltrCallSignal *
nfltr_call_signal_from_json (JsonObject *object, GError **error)
{
  g_autoptr(NfltrCallSignal) signal = NULL;
  const char *t = string_member (object, "t");
  guint type = 0;

  for (guint i = NFLTR_CALL_SIGNAL_RING; t != NULL && i <= NFLTR_CALL_SIGNAL_BYE; i++)
    if (g_str_equal (t, type_names[i]))
      type = i;
  if (type == 0)
    {
      malformed (error, "no known type");
      return NULL;
    }
  signal = nfltr_call_signal_new (type);
  switch (signal->type)
    {
      case NFLTR_CALL_SIGNAL_RING:
        {
          JsonNode *video = json_object_get_member (object, "video");

          if (video != NULL &&
              (!JSON_NODE_HOLDS_VALUE (video) || json_node_get_value_type (video) != G_TYPE_BOOLEAN))
            {
              malformed (error, "video");
              return NULL;
            }
          signal->video = video != NULL && json_node_get_boolean (video);
          break;
        }
      case NFLTR_CALL_SIGNAL_ACCEPT: break;
      case NFLTR_CALL_SIGNAL_DECLINE:
      case NFLTR_CALL_SIGNAL_BYE:
        if (!take_reason (object, signal, error))
          return NULL;
        break;
      case NFLTR_CALL_SIGNAL_OFFER:
      case NFLTR_CALL_SIGNAL_ANSWER:
        {
          const char *sdp = string_member (object, "sdp");

          if (sdp == NULL || !g_str_has_prefix (sdp, "v=0") || strlen (sdp) > NFLTR_CALL_SDP_MAX ||
              !is_text (sdp, TRUE))
            {
              malformed (error, "sdp");
              return NULL;
            }
          signal->sdp = g_strdup (sdp);
          break;
        }
      case NFLTR_CALL_SIGNAL_ICE:
        {
          const char *candidate = string_member (object, "c");
          JsonNode *m = json_object_get_member (object, "m");
          gint64 mline;

          if (m == NULL || !JSON_NODE_HOLDS_VALUE (m) || json_node_get_value_type (m) != G_TYPE_INT64)
            {
              malformed (error, "m-line");
              return NULL;
            }
          mline = json_node_get_int (m);
          if (mline < 0 || mline >= NFLTR_CALL_MLINE_MAX)
            {
              malformed (error, "m-line");
              return NULL;
            }
          if (candidate == NULL || !g_str_has_prefix (candidate, "candidate:") ||
              strlen (candidate) > NFLTR_CALL_CANDIDATE_MAX || !is_text (candidate, FALSE))
            {
              malformed (error, "candidate");
              return NULL;
            }
          signal->mline = (guint) mline;
          signal->candidate = g_strdup (candidate);
          break;
        }
      default: g_assert_not_reached ();
    }
  return g_steal_pointer (&signal);
}

NfltrCallSignal *
nfltr_call_signal_parse (const char *text, gssize len, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;
  JsonNode *root;

  if (len < 0)
    len = (gssize) strlen (text);
  if ((gsize) len > NFLTR_CALL_SDP_MAX + 1024)
    {
      malformed (error, "too long");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, len, &local))
    {
      malformed (error, "not JSON");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      malformed (error, "not an object");
      return NULL;
    }
  return nfltr_call_signal_from_json (json_node_get_object (root), error);
}

JsonObject *
nfltr_call_signal_to_json (const NfltrCallSignal *signal)
{
  JsonObject *object = json_object_new ();

  json_object_set_string_member (object, "t", nfltr_call_signal_type_name (signal->type));
  switch (signal->type)
    {
      case NFLTR_CALL_SIGNAL_RING: json_object_set_boolean_member (object, "video", signal->video); break;
      case NFLTR_CALL_SIGNAL_OFFER:
      case NFLTR_CALL_SIGNAL_ANSWER:
        json_object_set_string_member (object, "sdp", signal->sdp != NULL ? signal->sdp : "");
        break;
      case NFLTR_CALL_SIGNAL_ICE:
        json_object_set_int_member (object, "m", signal->mline);
        json_object_set_string_member (object, "c", signal->candidate != NULL ? signal->candidate : "");
        break;
      case NFLTR_CALL_SIGNAL_DECLINE:
      case NFLTR_CALL_SIGNAL_BYE:
        if (signal->reason != NULL)
          json_object_set_string_member (object, "reason", signal->reason);
        break;
      case NFLTR_CALL_SIGNAL_ACCEPT:
      default: break;
    }
  return object;
}

char *
nfltr_call_signal_to_string (const NfltrCallSignal *signal)
{
  g_autoptr(JsonObject) object = nfltr_call_signal_to_json (signal);
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, object);
  return json_to_string (node, FALSE);
}
