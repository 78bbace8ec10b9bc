/* nfltr-session.c — login, logout, probe; the relay settings, the key and the relay link */
#define G_LOG_DOMAIN "nfltr-manager"

#include "nfltr-session.h"

#include <stdlib.h>
#include <string.h>

#include "nfltr-cert.h"
#include "nfltr-credentials.h"
#include "nfltr-enrol.h"
#include "nfltr-error.h"
#include "nfltr-resolve.h"

#define NOT_LOGGED_IN_MESSAGE "no relay configured: run nfltr login --relay HOST:PORT --api-key KEY"

struct _NfltrSession {
  GObject parent_instance;

  char *config_dir;
  char *agent_id;

  NfltrRelayConfig *relay;      /* NULL when logged out */
  NfltrRelayLink *link;         /* NULL when logged out or the key is still being looked up */
  NfltrTunnelBinder *binder;    /* the tunnels' names on link; NULL with it */
  GError *key_error;            /* why the saved relay's key could not be found */
  GCancellable *cancellable;
  guint generation;             /* bumped by Login/Logout: stale restores step aside */
  gboolean restoring;           /* the saved relay's key is being looked up (libsecret may
                                 * take a while): methods that need the link wait for it */
};

G_DEFINE_FINAL_TYPE (NfltrSession, nfltr_session, G_TYPE_OBJECT)

enum {
  SIGNAL_CHANGED,
  SIGNAL_LINK_STATE_CHANGED,
  SIGNAL_LINK_ADOPTED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

static gboolean
parse_relay (const char *relay, char **host, guint16 *port, GError **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!nfltr_parse_address (relay, NFLTR_ADDRESS_RELAY, atoi (NFLTR_DEFAULT_RELAY_PORT), FALSE, host, port,
                            &local_error))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT, "relay: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* --- the link -------------------------------------------------------------------------- */

static void
link_state_changed_cb (NfltrRelayLink *link, NfltrSession *self)
{
  NfltrRelayLinkState state = nfltr_relay_link_get_state (link);

  if (state == NFLTR_RELAY_LINK_CONNECTED && self->relay &&
      g_strcmp0 (self->relay->domain, nfltr_relay_link_get_domain (link)) != 0)
    {
      g_autoptr(GError) error = NULL;

      g_free (self->relay->domain);
      self->relay->domain = g_strdup (nfltr_relay_link_get_domain (link));
      if (!nfltr_relay_config_save (self->config_dir, self->relay, &error))
        g_warning ("cannot save relay settings: %s", error->message);
    }
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  g_signal_emit (self, signals[SIGNAL_LINK_STATE_CHANGED], 0);
}

static void
detach_link (NfltrSession *self)
{
  g_autoptr(NfltrRelayLink) link = g_steal_pointer (&self->link);
  g_autoptr(NfltrTunnelBinder) binder = g_steal_pointer (&self->binder);

  if (link == NULL)
    return;
  g_signal_handlers_disconnect_by_data (link, self);
  /* The binder hears the link stop and fails what still waits for a BIND. */
  nfltr_relay_link_stop (link);
}

/* Takes link as the current one; the tunnel manager then binds every tunnel that should be up. */
static void
adopt_link (NfltrSession *self, NfltrRelayLink *link)
{
  detach_link (self);
  self->link = g_object_ref (link);
  /* First, so it has failed or re-sent its BINDs before anyone else hears of a state. */
  self->binder = nfltr_tunnel_binder_new (link);
  g_signal_connect (link, "state-changed", G_CALLBACK (link_state_changed_cb), self);
  if (nfltr_relay_link_get_state (link) == NFLTR_RELAY_LINK_STOPPED)
    nfltr_relay_link_start (link);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  g_signal_emit (self, signals[SIGNAL_LINK_ADOPTED], 0);
}

/* --- probe ----------------------------------------------------------------------------- */

typedef struct {
  char *fingerprint;
  char *subject;
} Probed;

static void
probed_free (Probed *probed)
{
  g_free (probed->fingerprint);
  g_free (probed->subject);
  g_free (probed);
}

static void
probe_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  Probed *probed = g_new0 (Probed, 1);

  if (!nfltr_relay_probe_finish (result, &probed->fingerprint, &probed->subject, &error))
    {
      probed_free (probed);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, probed, (GDestroyNotify) probed_free);
}

void
nfltr_session_probe_async (NfltrSession        *self,
                           const char          *relay,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_autofree char *host = NULL;
  guint16 port;

  g_task_set_source_tag (task, nfltr_session_probe_async);
  if (!parse_relay (relay, &host, &port, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  nfltr_relay_probe_async (host, port, cancellable, probe_cb, g_steal_pointer (&task));
}

gboolean
nfltr_session_probe_finish (NfltrSession  *self,
                            GAsyncResult  *result,
                            char         **fingerprint,
                            char         **subject,
                            GError       **error)
{
  Probed *probed = g_task_propagate_pointer (G_TASK (result), error);

  if (probed == NULL)
    return FALSE;
  if (fingerprint)
    *fingerprint = g_steal_pointer (&probed->fingerprint);
  if (subject)
    *subject = g_steal_pointer (&probed->subject);
  probed_free (probed);
  return TRUE;
}

/* --- login ----------------------------------------------------------------------------- */

typedef struct {
  char *host;
  guint16 port;
  char *api_key;
  char *expected;
  char *fingerprint;
  NfltrRelayLink *link;
  /* issue 11, mTLS: the new client key (PEM) until its certificate comes, then both. */
  char *client_key;
  GTlsCertificate *client_cert;
} Login;

static void
login_free (Login *login)
{
  /* Its state-changed handler was disconnected by login_fail or login_link_state_cb. */
  g_clear_object (&login->link);
  g_free (login->host);
  g_free (login->api_key);
  g_free (login->expected);
  g_free (login->fingerprint);
  g_free (login->client_key);
  g_clear_object (&login->client_cert);
  g_free (login);
}

static void
login_fail (GTask *task /* owned */, const GError *error)
{
  g_autoptr(GTask) owned = task;
  Login *login = g_task_get_task_data (task);
  /* error may belong to the link, which forgets it when stopped. */
  g_autoptr(GError) copy = g_error_copy (error);

  if (login->link)
    {
      g_signal_handlers_disconnect_by_data (login->link, task);
      nfltr_relay_link_stop (login->link);
    }
  g_task_return_error (task, g_steal_pointer (&copy));
}

static void
login_store_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Login *login = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!nfltr_api_key_store_finish (result, &error))
    {
      g_task_return_new_error (task, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                               "cannot store the API key: %s", error->message);
      return;
    }
  g_task_return_pointer (task, g_strdup (login->fingerprint), g_free);
}

/* The key works: this relay, its pin and its key become the agent's. */
static void
login_adopt (GTask *task /* owned */)
{
  NfltrSession *self = g_task_get_source_object (task);
  Login *login = g_task_get_task_data (task);
  g_autoptr(NfltrRelayConfig) config = g_new0 (NfltrRelayConfig, 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *relay = NULL;

  config->host = g_strdup (login->host);
  config->port = login->port;
  config->fingerprint = g_strdup (login->fingerprint);
  config->domain = g_strdup (nfltr_relay_link_get_domain (login->link));
  /* issue 11: pinned like the certificate */
  config->signing_key = g_strdup (nfltr_relay_link_get_signing_key (login->link));
  nfltr_relay_link_pin_signing_key (login->link, config->signing_key);
  if (!nfltr_relay_config_save (self->config_dir, config, &error))
    {
      login_fail (task, error);
      return;
    }
  self->generation++;
  self->restoring = FALSE;
  g_clear_error (&self->key_error);
  if (self->relay != NULL &&
      (g_strcmp0 (self->relay->host, config->host) != 0 || self->relay->port != config->port))
    {
      /* A new relay: the old one's key has no use any more. */
      g_autofree char *old = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);
      nfltr_api_key_clear (self->config_dir, old);
    }
  nfltr_relay_config_free (self->relay);
  self->relay = g_steal_pointer (&config);
  adopt_link (self, login->link);
  g_message ("logged in to relay %s:%u (%s)", login->host, login->port, login->fingerprint);

  relay = g_strdup_printf ("%s:%u", login->host, login->port);
  nfltr_api_key_store_async (self->config_dir, relay, login->api_key, NULL, login_store_cb, task);
}

static void
login_link_state_cb (NfltrRelayLink *link, GTask *task)
{
  Login *login = g_task_get_task_data (task);

  switch (nfltr_relay_link_get_state (link))
    {
      case NFLTR_RELAY_LINK_CONNECTING: return;
      case NFLTR_RELAY_LINK_CONNECTED:
        g_signal_handlers_disconnect_by_data (link, task);
        login_adopt (task);
        return;
      case NFLTR_RELAY_LINK_STOPPED:
      case NFLTR_RELAY_LINK_UNREACHABLE:
      case NFLTR_RELAY_LINK_AUTH_FAILED:
      case NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH:
      default:
        {
          const GError *why = nfltr_relay_link_get_error (link);
          g_autoptr(GError) fallback = g_error_new (NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE,
                                                    "cannot reach relay %s:%u", login->host, login->port);
          login_fail (task, why ? why : fallback);
          return;
        }
    }
}

/* The relay presented login->fingerprint: FALSE (error set) when the caller expected another,
 * or expected none (trust on first use) while this relay is pinned to another certificate —
 * a changed certificate is what a man in the middle looks like, so only a caller that names
 * the new fingerprint replaces the pin. */
static gboolean
login_check_expected (NfltrSession *self, Login *login, GError **error)
{
  guint8 expected[NFLTR_FINGERPRINT_LEN];
  guint8 presented[NFLTR_FINGERPRINT_LEN];

  if (login->expected == NULL || *login->expected == '\0')
    {
      guint8 pinned[NFLTR_FINGERPRINT_LEN];

      if (self->relay == NULL || self->relay->fingerprint == NULL ||
          g_ascii_strcasecmp (self->relay->host, login->host) != 0 || self->relay->port != login->port ||
          !nfltr_fingerprint_parse (self->relay->fingerprint, pinned))
        return TRUE;
      if (nfltr_fingerprint_parse (login->fingerprint, presented) &&
          memcmp (pinned, presented, sizeof pinned) == 0)
        return TRUE;
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                   "the certificate of relay %s:%u has changed: it presents %s, but %s is pinned; "
                   "log in with the new fingerprint once its operator has confirmed it",
                   login->host, login->port, login->fingerprint, self->relay->fingerprint);
      return FALSE;
    }
  if (!nfltr_fingerprint_parse (login->expected, expected))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a SHA-256 fingerprint", login->expected);
      return FALSE;
    }
  if (!nfltr_fingerprint_parse (login->fingerprint, presented) ||
      memcmp (expected, presented, sizeof expected) != 0)
    {
      g_autofree char *want = nfltr_fingerprint_format (expected);
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_FINGERPRINT_MISMATCH,
                   "relay %s:%u presented certificate %s, but %s was expected",
                   login->host, login->port, login->fingerprint, want);
      return FALSE;
    }
  return TRUE;
}

static void
login_connect (GTask *task /* owned */)
{
  NfltrSession *self = g_task_get_source_object (task);
  Login *login = g_task_get_task_data (task);

  /* The key only ever travels over a connection pinned to what we just saw. */
  login->link = nfltr_relay_link_new (login->host, login->port, login->fingerprint,
                                      login->api_key, self->agent_id);
  /* issue 11: logging in again to the pinned relay — same address, same certificate — keeps its
   * proof signing key pinned, and a changed key is refused (log out first to accept one). A
   * certificate the user has just confirmed anew (a relay remade) brings its key with it. */
  if (self->relay != NULL && self->relay->signing_key != NULL &&
      g_strcmp0 (self->relay->host, login->host) == 0 && self->relay->port == login->port &&
      self->relay->fingerprint != NULL && g_ascii_strcasecmp (self->relay->fingerprint, login->fingerprint) == 0)
    nfltr_relay_link_pin_signing_key (login->link, self->relay->signing_key);
  if (login->client_cert != NULL)
    nfltr_relay_link_set_client_certificate (login->link, login->client_cert);
  g_signal_connect (login->link, "state-changed", G_CALLBACK (login_link_state_cb), task);
  nfltr_relay_link_start (login->link);
}

/* issue 11, mTLS: the relay issued a certificate for our new key; it is the credential now. */
static void
login_cert_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  NfltrSession *self = g_task_get_source_object (task);
  Login *login = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *cert_pem = nfltr_enrol_finish (result, &error);

  if (cert_pem == NULL ||
      !nfltr_client_cert_save (self->config_dir, login->client_key, cert_pem, &error) ||
      (login->client_cert = nfltr_client_cert_load (self->config_dir, &error)) == NULL)
    {
      login_fail (task, error);
      return;
    }
  g_free (login->api_key);
  login->api_key = g_strdup (NFLTR_PROTO_MTLS_MARKER);
  login_connect (task);
}

/* issue 11, fleet tokens: the enrolled credential replaces the token, which is not kept. */
static void
login_enrol_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  Login *login = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  char *credential = nfltr_enrol_finish (result, &error);

  if (credential == NULL)
    {
      login_fail (task, error);
      return;
    }
  g_free (login->api_key);
  login->api_key = credential;
  login_connect (task);
}

static void
login_probe_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GTask *task = user_data;
  NfltrSession *self = g_task_get_source_object (task);
  Login *login = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!nfltr_relay_probe_finish (result, &login->fingerprint, NULL, &error) ||
      !login_check_expected (self, login, &error))
    {
      login_fail (task, error);
      return;
    }

  /* issue 11, mTLS: a certificate of the operator's CA, handed over as PEM (cert and key). */
  if (g_str_has_prefix (login->api_key, NFLTR_MTLS_PEM_PREFIX))
    {
      const char *pem = login->api_key + strlen (NFLTR_MTLS_PEM_PREFIX);

      if (!nfltr_client_cert_save (self->config_dir, pem, pem, &error) ||
          (login->client_cert = nfltr_client_cert_load (self->config_dir, &error)) == NULL)
        {
          login_fail (task, error);
          return;
        }
      g_free (login->api_key);
      login->api_key = g_strdup (NFLTR_PROTO_MTLS_MARKER);
      login_connect (task);
      return;
    }
  /* issue 11, mTLS: a new key, certified by the relay on the strength of the key or token. */
  if (g_str_has_prefix (login->api_key, NFLTR_MTLS_LOGIN_PREFIX))
    {
      g_autofree char *public_key = NULL;

      if (!nfltr_client_key_generate (&login->client_key, &public_key, &error))
        {
          login_fail (task, error);
          return;
        }
      nfltr_enrol_async (login->host, login->port, login->fingerprint,
                         login->api_key + strlen (NFLTR_MTLS_LOGIN_PREFIX), self->agent_id,
                         public_key, NULL, login_cert_cb, task);
      return;
    }
  /* issue 11, fleet tokens: a token is first exchanged for this agent's own credential. */
  if (nfltr_enrol_is_fleet_token (login->api_key))
    {
      nfltr_enrol_async (login->host, login->port, login->fingerprint, login->api_key,
                         self->agent_id, NULL, NULL, login_enrol_cb, task);
      return;
    }
  login_connect (task);
}

void
nfltr_session_login_async (NfltrSession        *self,
                           const char          *relay,
                           const char          *api_key,
                           const char          *expected_fingerprint,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  Login *login = g_new0 (Login, 1);
  g_autoptr(GError) error = NULL;

  g_task_set_source_tag (task, nfltr_session_login_async);
  g_task_set_task_data (task, login, (GDestroyNotify) login_free);
  login->expected = g_strdup (expected_fingerprint);
  login->api_key = g_strdup (api_key);

  if (!parse_relay (relay, &login->host, &login->port, &error))
    {
      login_fail (task, error);
      return;
    }
  if (api_key == NULL || *api_key == '\0')
    {
      g_autoptr(GError) empty = g_error_new_literal (NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                                                     "the API key is empty");
      login_fail (task, empty);
      return;
    }

  nfltr_relay_probe_async (login->host, login->port, NULL, login_probe_cb, task);
}

char *
nfltr_session_login_finish (NfltrSession  *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
nfltr_session_logout (NfltrSession *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *relay = NULL;

  self->generation++;
  self->restoring = FALSE;
  if (self->relay)
    relay = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);

  detach_link (self);
  nfltr_api_key_clear (self->config_dir, relay);
  g_clear_pointer (&self->relay, nfltr_relay_config_free);
  g_clear_error (&self->key_error);
  if (!nfltr_relay_config_delete (self->config_dir, &error))
    g_warning ("%s", error->message);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  g_message ("logged out");
}

/* --- restore at start ------------------------------------------------------------------ */

typedef struct {
  NfltrSession *self;
  guint generation;
} Restore;

static void
restore_key_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autofree Restore *restore = user_data;
  g_autoptr(NfltrSession) self = restore->self;
  g_autoptr(GError) error = NULL;
  g_autofree char *key = nfltr_api_key_lookup_finish (result, &error);
  g_autoptr(NfltrRelayLink) link = NULL;

  if (restore->generation != self->generation || self->relay == NULL)
    return;  /* a Login or Logout came first (and ended the restore) */
  self->restoring = FALSE;
  if (key == NULL)
    {
      g_message ("%s", error->message);
      g_clear_error (&self->key_error);
      self->key_error = g_steal_pointer (&error);
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
      return;
    }
  link = nfltr_relay_link_new (self->relay->host, self->relay->port, self->relay->fingerprint,
                               key, self->agent_id);
  /* issue 11, mTLS: the stored "key" says the credential is the client certificate. */
  if (g_strcmp0 (key, NFLTR_PROTO_MTLS_MARKER) == 0)
    {
      g_autoptr(GTlsCertificate) cert = nfltr_client_cert_load (self->config_dir, &error);

      if (cert != NULL)
        nfltr_relay_link_set_client_certificate (link, cert);
      else
        g_message ("%s", error->message);
    }
  nfltr_relay_link_pin_signing_key (link, self->relay->signing_key);  /* issue 11 */
  adopt_link (self, link);
}

void
nfltr_session_load (NfltrSession *self)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&self->relay, nfltr_relay_config_free);
  self->relay = nfltr_relay_config_load (self->config_dir, &error);
  if (error)
    g_warning ("%s", error->message);
}

void
nfltr_session_restore (NfltrSession *self)
{
  Restore *restore;
  g_autofree char *relay = NULL;

  if (self->relay == NULL)
    return;
  restore = g_new0 (Restore, 1);
  relay = g_strdup_printf ("%s:%u", self->relay->host, self->relay->port);
  restore->self = g_object_ref (self);
  restore->generation = self->generation;
  self->restoring = TRUE;
  nfltr_api_key_lookup_async (self->config_dir, relay, self->cancellable, restore_key_cb, restore);
}

void
nfltr_session_shutdown (NfltrSession *self)
{
  g_cancellable_cancel (self->cancellable);
  self->generation++;
  self->restoring = FALSE;
  detach_link (self);
}

/* --- what the others read -------------------------------------------------------------- */

gboolean
nfltr_session_is_restoring (NfltrSession *self)
{
  return self->restoring;
}

const NfltrRelayConfig *
nfltr_session_get_relay (NfltrSession *self)
{
  return self->relay;
}

NfltrRelayLink *
nfltr_session_get_link (NfltrSession *self)
{
  return self->link;
}

NfltrTunnelBinder *
nfltr_session_get_binder (NfltrSession *self)
{
  return self->binder;
}

const char *
nfltr_session_get_domain (NfltrSession *self)
{
  if (self->link && nfltr_relay_link_get_domain (self->link))
    return nfltr_relay_link_get_domain (self->link);
  if (self->relay && self->relay->domain)
    return self->relay->domain;
  return NFLTR_DEFAULT_DOMAIN;
}

NfltrRelayLinkState
nfltr_session_get_relay_state (NfltrSession  *self,
                               const GError **error)
{
  const GError *why = NULL;
  NfltrRelayLinkState state;

  if (self->link)
    {
      state = nfltr_relay_link_get_state (self->link);
      /* A connected link keeps its last error until it fails again; show none while up. */
      if (state != NFLTR_RELAY_LINK_CONNECTED)
        why = nfltr_relay_link_get_error (self->link);
    }
  else if (self->relay && self->key_error)
    {
      /* Logged out in effect: there is a relay but no key for it. */
      state = NFLTR_RELAY_LINK_STOPPED;
      why = self->key_error;
    }
  else if (self->relay)
    state = NFLTR_RELAY_LINK_CONNECTING;   /* the key is being looked up */
  else
    state = NFLTR_RELAY_LINK_STOPPED;

  if (error)
    *error = why;
  return state;
}

gboolean
nfltr_session_check_logged_in (NfltrSession  *self,
                               GError       **error)
{
  if (self->link != NULL)
    return TRUE;
  if (self->relay != NULL)
    g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN,
                 "no API key for relay %s:%u: run nfltr login --relay %s:%u --api-key KEY",
                 self->relay->host, self->relay->port, self->relay->host, self->relay->port);
  else
    g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_NOT_LOGGED_IN, NOT_LOGGED_IN_MESSAGE);
  return FALSE;
}

/* --------------------------------------------------------------------------------------- */

NfltrSession *
nfltr_session_new (const char *config_dir,
                   const char *agent_id)
{
  NfltrSession *self = g_object_new (NFLTR_TYPE_SESSION, NULL);

  self->config_dir = g_strdup (config_dir);
  self->agent_id = g_strdup (agent_id);
  return self;
}

static void
nfltr_session_dispose (GObject *object)
{
  NfltrSession *self = NFLTR_SESSION (object);

  detach_link (self);

  G_OBJECT_CLASS (nfltr_session_parent_class)->dispose (object);
}

static void
nfltr_session_finalize (GObject *object)
{
  NfltrSession *self = NFLTR_SESSION (object);

  g_clear_pointer (&self->relay, nfltr_relay_config_free);
  g_clear_error (&self->key_error);
  g_clear_object (&self->cancellable);
  g_free (self->config_dir);
  g_free (self->agent_id);

  G_OBJECT_CLASS (nfltr_session_parent_class)->finalize (object);
}

static void
nfltr_session_class_init (NfltrSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_session_dispose;
  object_class->finalize = nfltr_session_finalize;

  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_LINK_STATE_CHANGED] =
    g_signal_new ("link-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_LINK_ADOPTED] =
    g_signal_new ("link-adopted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
nfltr_session_init (NfltrSession *self)
{
  self->cancellable = g_cancellable_new ();
}
