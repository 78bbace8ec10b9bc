/* nfltr-enrol.c — fleet enrolment: the token goes once to the pinned relay, which answers with
 * a credential of this agent's own; the token is never stored. */
#define G_LOG_DOMAIN "nfltr-session"

#include "nfltr-enrol.h"

#include "nfltr-cert.h"
#include "nfltr-error.h"
#include "nfltr-loopback-address.h"

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
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
  gboolean     want_certificate;
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
    credential = answer_member (body, enrol->want_certificate ? "certificate" : "credential");
  if (credential != NULL && *credential != '\0')
    {
      g_task_return_pointer (task, g_steal_pointer (&credential), g_free);
      return;
    }
  why = answer_member (body, "error");
  if (status == SOUP_STATUS_FORBIDDEN)
    g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_AUTH_FAILED,
                             "relay %s refused the %s: %s", enrol->relay,
                             enrol->want_certificate ? "enrolment" : "fleet token",
                             why ? why : "no reason given");
  else
    g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_PROTOCOL,
                             "relay %s did not enrol this agent (HTTP %u%s%s)", enrol->relay, status,
                             why ? ": " : "", why ? why : "");
}

void
nfltr_enrol_async (const char *host, guint16 port, const char *pinned, const char *secret,
                   const char *agent_id, const char *public_key_pem, GCancellable *cancellable,
                   GAsyncReadyCallback callback, gpointer user_data)
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
  json_builder_set_member_name (b, nfltr_enrol_is_fleet_token (secret) ? "token" : "api_key");
  json_builder_add_string_value (b, secret);
  json_builder_set_member_name (b, "agent_id");
  json_builder_add_string_value (b, agent_id);
  if (public_key_pem != NULL)
    {
      json_builder_set_member_name (b, "public_key");
      json_builder_add_string_value (b, public_key_pem);
    }
  enrol->want_certificate = public_key_pem != NULL;
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

/* ---- issue 11, mTLS: the agent's client key and certificate ---- */

gboolean
nfltr_client_key_generate (char **key_pem, char **public_key_pem, GError **error)
{
  gnutls_x509_privkey_t key = NULL;
  gnutls_privkey_t abstract = NULL;
  gnutls_pubkey_t pub = NULL;
  gnutls_datum_t priv_out = { NULL, 0 };
  gnutls_datum_t pub_out = { NULL, 0 };
  int rc;

  if ((rc = gnutls_x509_privkey_init (&key)) >= 0 &&
      (rc = gnutls_x509_privkey_generate (key, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0)) >= 0 &&
      /* PKCS #8 ("PRIVATE KEY"): what GTlsCertificate reads for any key type. */
      (rc = gnutls_x509_privkey_export2_pkcs8 (key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                               &priv_out)) >= 0 &&
      (rc = gnutls_privkey_init (&abstract)) >= 0 &&
      (rc = gnutls_privkey_import_x509 (abstract, key, 0)) >= 0 &&
      (rc = gnutls_pubkey_init (&pub)) >= 0 &&
      (rc = gnutls_pubkey_import_privkey (pub, abstract, 0, 0)) >= 0 &&
      (rc = gnutls_pubkey_export2 (pub, GNUTLS_X509_FMT_PEM, &pub_out)) >= 0)
    {
      *key_pem = g_strndup ((const char *) priv_out.data, priv_out.size);
      *public_key_pem = g_strndup ((const char *) pub_out.data, pub_out.size);
    }
  else
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_CERTIFICATE, "cannot make a client key: %s",
                 gnutls_strerror (rc));
  gnutls_free (priv_out.data);
  gnutls_free (pub_out.data);
  if (pub != NULL)
    gnutls_pubkey_deinit (pub);
  /* abstract does not own key (flags 0): both go. */
  if (abstract != NULL)
    gnutls_privkey_deinit (abstract);
  if (key != NULL)
    gnutls_x509_privkey_deinit (key);
  return rc >= 0;
}

gboolean
nfltr_client_cert_save (const char *config_dir, const char *key_pem, const char *cert_pem,
                        GError **error)
{
  g_autofree char *key_path = g_build_filename (config_dir, "client.key", NULL);
  g_autofree char *cert_path = g_build_filename (config_dir, "client.crt", NULL);

  if (g_mkdir_with_parents (config_dir, 0700) != 0)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FAILED, "cannot create %s", config_dir);
      return FALSE;
    }
  /* The key is the credential now, as the API key was: 0600 from its first byte. */
  return g_file_set_contents_full (key_path, key_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error) &&
         g_file_set_contents_full (cert_path, cert_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

GTlsCertificate *
nfltr_client_cert_load (const char *config_dir, GError **error)
{
  g_autofree char *key_path = g_build_filename (config_dir, "client.key", NULL);
  g_autofree char *cert_path = g_build_filename (config_dir, "client.crt", NULL);
  GTlsCertificate *cert = g_tls_certificate_new_from_files (cert_path, key_path, error);

  if (cert == NULL)
    g_prefix_error (error, "the client certificate of `nfltr login --mtls`: ");
  return cert;
}
