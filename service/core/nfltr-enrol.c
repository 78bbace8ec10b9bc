/* nfltr-enrol.c — fleet enrolment: the token goes once to the pinned relay, which answers with
 * a credential of this agent's own; the token is never stored. */
#define G_LOG_DOMAIN "nfltr-session"

#include "nfltr-enrol.h"

#include "nfltr-cert.h"
#include "nfltr-error.h"
#include "nfltr-loopback-address.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

/* The answer is a small JSON object; more is not an enrolment. */
#define ENROL_MAX_ANSWER 65536

typedef struct {
  SoupSession *session;
  SoupMessage *msg;
  char        *pinned;
  char        *presented;
  char        *relay;
} Enrol;

static void
enrol_free (Enrol *enrol)
{
  g_clear_object (&enrol->msg);
  g_clear_object (&enrol->session);
  g_free (enrol->pinned);
  g_free (enrol->presented);
  g_free (enrol->relay);
  g_free (enrol);
}

gboolean
nfltr_enrol_is_fleet_token (const char *secret)
{
  return secret != NULL && g_str_has_prefix (secret, NFLTR_FLEET_TOKEN_PREFIX);
}

static char *
fingerprint_of (GTlsCertificate *cert)
{
  g_autoptr(GByteArray) der = NULL;
  guint8 digest[NFLTR_FINGERPRINT_LEN];

  if (cert == NULL)
    return NULL;
  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL)
    return NULL;
  nfltr_fingerprint_of_der (der->data, der->len, digest);
  return nfltr_fingerprint_format (digest);
}

static gboolean
accept_certificate_cb (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                       gpointer user_data)
{
  Enrol *enrol = user_data;

  g_free (enrol->presented);
  enrol->presented = fingerprint_of (cert);
  /* The pin the user confirmed replaces CA validation, as on the control channel. */
  return enrol->presented != NULL && g_ascii_strcasecmp (enrol->presented, enrol->pinned) == 0;
}

/* The "error" member of the relay's JSON answer, or NULL. */
static char *
answer_member (GBytes *body, const char *member)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object;
  gsize len;
  const char *data = g_bytes_get_data (body, &len);

  if (data == NULL || len == 0 || len > ENROL_MAX_ANSWER ||
      !json_parser_load_from_data (parser, data, len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  object = json_node_get_object (root);
  if (!json_object_has_member (object, member))
    return NULL;
  root = json_object_get_member (object, member);
  if (!JSON_NODE_HOLDS_VALUE (root) || json_node_get_value_type (root) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (root));
}

static void
send_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  Enrol *enrol = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  g_autofree char *credential = NULL;
  g_autofree char *why = NULL;
  guint status;

  if (body == NULL)
    {
      if (enrol->presented != NULL && g_ascii_strcasecmp (enrol->presented, enrol->pinned) != 0)
        g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                                 "relay %s presented certificate %s, but %s was confirmed",
                                 enrol->relay, enrol->presented, enrol->pinned);
      else
        g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                 "cannot enrol with relay %s: %s", enrol->relay, error->message);
      return;
    }
  status = soup_message_get_status (enrol->msg);
  if (status == SOUP_STATUS_OK)
    credential = answer_member (body, "credential");
  if (credential != NULL && *credential != '\0')
    {
      g_task_return_pointer (task, g_steal_pointer (&credential), g_free);
      return;
    }
  why = answer_member (body, "error");
  if (status == SOUP_STATUS_FORBIDDEN)
    g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED,
                             "relay %s refused the fleet token: %s", enrol->relay,
                             why ? why : "no reason given");
  else
    g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                             "relay %s did not enrol this agent (HTTP %u%s%s)", enrol->relay, status,
                             why ? ": " : "", why ? why : "");
}

void
nfltr_enrol_async (const char *host, guint16 port, const char *pinned, const char *token,
                   const char *agent_id, GCancellable *cancellable, GAsyncReadyCallback callback,
                   gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Enrol *enrol = g_new0 (Enrol, 1);
  g_autoptr(GSocketConnectable) connectable = nfltr_tls_connectable_new (host, port);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *user_agent = g_strdup_printf ("nfltr-service/%s", PACKAGE_VERSION);
  char *text;
  gsize len;

  g_task_set_source_tag (task, nfltr_enrol_async);
  g_task_set_task_data (task, enrol, (GDestroyNotify) enrol_free);
  enrol->pinned = g_strdup (pinned);
  enrol->relay = g_strdup_printf ("%s:%u", host, port);

  if (strchr (host, ':') != NULL)
    uri = g_strdup_printf ("https://[%s]:%u/api/v1/enrol", host, port);
  else
    uri = g_strdup_printf ("https://%s:%u/api/v1/enrol", host, port);
  enrol->msg = soup_message_new ("POST", uri);
  if (enrol->msg == NULL)
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                               "“%s” is not a valid relay address", enrol->relay);
      g_object_unref (task);
      return;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "token");
  json_builder_add_string_value (b, token);
  json_builder_set_member_name (b, "agent_id");
  json_builder_add_string_value (b, agent_id);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, &len);
  body = g_bytes_new_take (text, len);
  soup_message_set_request_body_from_bytes (enrol->msg, "application/json", body);
  g_signal_connect (enrol->msg, "accept-certificate", G_CALLBACK (accept_certificate_cb), enrol);

  /* The relay's name for TLS (SNI), connecting to loopback when it is under .localhost. */
  enrol->session = soup_session_new_with_options ("remote-connectable", connectable,
                                                  "user-agent", user_agent, "timeout", 30, NULL);
  soup_session_send_and_read_async (enrol->session, enrol->msg, G_PRIORITY_DEFAULT, cancellable,
                                    send_cb, task);
}

char *
nfltr_enrol_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
