/* nfltr-tunnel-impl.c — one tunnel's D-Bus object, certificate and data connections */
#define G_LOG_DOMAIN "nfltr-tunnel"

#include "nfltr-tunnel-impl.h"

#include <string.h>

#include "nfltr-acme-cert.h"
#include "nfltr-acme-renewer.h"
#include "nfltr-cert.h"
#include "nfltr-cert-trust.h"
#include "nfltr-data-conn.h"
#include "nfltr-error.h"
#include "nfltr-main-context.h"
#include "nfltr-tunnel-kind.h"

/* Counters are published at most this often, and only when they changed. */
#define STATS_PERIOD_MS 500

struct _NfltrTunnelImpl {
  NfltrDbusTunnelSkeleton parent_instance;

  NfltrTunnelConfig *config;
  char *owner;
  NfltrTunnelKind *kind;
  GVariant *kind_config;      /* the kind's parse() of the target: what its hooks read */
  gboolean kind_started;
  char *public_host;
  guint8 fingerprint[NFLTR_PROTO_FINGERPRINT_SIZE];

  NfltrTunnelTls *tls;
  NfltrTunnelStats *stats;
  NfltrDataConnGroup *group;
  NfltrCidrList *allow;       /* --allow-cidr / --deny-cidr (issue 9 §10), or NULL */
  NfltrCidrList *deny;
  GSource *stats_source;
  guint start_serial;   /* tells a stale start completion from the current one */
  NfltrTunnelState state;

  /* issue 11 item 7: ACME, and the certificate served now (its changes reach the kind) */
  char *cert_pem;
  char *key_pem;                /* only until nfltr_tunnel_impl_use_acme () */
  NfltrAcmeSettings *acme_settings;
  NfltrAcmeRenewer *acme;
  NfltrTunnelBinder *binder;    /* weak: the one the tunnel was started on, for a re-BIND */
};

G_DEFINE_FINAL_TYPE (NfltrTunnelImpl, nfltr_tunnel_impl, NFLTR_DBUS_TYPE_TUNNEL_SKELETON)

const char *
nfltr_tunnel_state_to_string (NfltrTunnelState state)
{
  switch (state)
    {
      case NFLTR_TUNNEL_STOPPED: return "stopped";
      case NFLTR_TUNNEL_STARTING: return "starting";
      case NFLTR_TUNNEL_CONNECTING: return "connecting";
      case NFLTR_TUNNEL_ONLINE: return "online";
      case NFLTR_TUNNEL_RECONNECTING: return "reconnecting";
      case NFLTR_TUNNEL_FAILED: return "failed";
      default: g_return_val_if_reached ("failed");
    }
}

/* The enum inside, the string on D-Bus. */
static void
set_state (NfltrTunnelImpl *self, NfltrTunnelState state, const char *last_error)
{
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);

  if (self->state != state)
    g_debug ("tunnel %s: %s → %s%s%s", self->config->name, nfltr_tunnel_state_to_string (self->state),
             nfltr_tunnel_state_to_string (state), last_error ? ": " : "", last_error ? last_error : "");
  self->state = state;
  /* ACME validates through the relay: only an online tunnel can answer the challenge. */
  if (self->acme != NULL)
    nfltr_acme_renewer_set_online (self->acme, state == NFLTR_TUNNEL_ONLINE);
  nfltr_dbus_tunnel_set_state (t, nfltr_tunnel_state_to_string (state));
  if (last_error != NULL)
    nfltr_dbus_tunnel_set_last_error (t, last_error);
}

static const char *
origin_state_to_string (NfltrOriginState state)
{
  switch (state)
    {
      case NFLTR_ORIGIN_UP: return "up";
      case NFLTR_ORIGIN_DOWN: return "down";
      case NFLTR_ORIGIN_UNKNOWN:
      default: return "unknown";
    }
}

/* Issue 9 §2: a dead local server must not look healthy. */
static void
publish_origin (NfltrTunnelImpl *self)
{
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);
  g_autofree char *error = NULL;
  guint64 failures;
  const char *state = origin_state_to_string (nfltr_tunnel_stats_get_origin (self->stats, &failures, &error));

  if (g_strcmp0 (nfltr_dbus_tunnel_get_origin_error (t), error != NULL ? error : "") != 0)
    nfltr_dbus_tunnel_set_origin_error (t, error != NULL ? error : "");
  if (nfltr_dbus_tunnel_get_origin_failures (t) != failures)
    nfltr_dbus_tunnel_set_origin_failures (t, failures);
  /* Last: a client that reacts to the state finds the reason already there. */
  if (g_strcmp0 (nfltr_dbus_tunnel_get_origin_state (t), state) != 0)
    {
      if (g_strcmp0 (state, "unknown") != 0)
        g_debug ("tunnel %s: local server %s%s%s", self->config->name, state, error ? ": " : "",
                 error ? error : "");
      nfltr_dbus_tunnel_set_origin_state (t, state);
    }
}

static gboolean
stats_cb (gpointer user_data)
{
  NfltrTunnelImpl *self = user_data;
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);
  guint active = nfltr_tunnel_stats_get_active (self->stats);
  guint64 total = nfltr_tunnel_stats_get_total (self->stats);
  guint64 in = nfltr_tunnel_stats_get_bytes_in (self->stats);
  guint64 out = nfltr_tunnel_stats_get_bytes_out (self->stats);

  publish_origin (self);
  /* The skeleton queues a PropertiesChanged per set; skip the ones that did not move. */
  if (nfltr_dbus_tunnel_get_active_connections (t) != active)
    nfltr_dbus_tunnel_set_active_connections (t, active);
  if (nfltr_dbus_tunnel_get_total_connections (t) != total)
    nfltr_dbus_tunnel_set_total_connections (t, total);
  if (nfltr_dbus_tunnel_get_bytes_in (t) != in)
    nfltr_dbus_tunnel_set_bytes_in (t, in);
  if (nfltr_dbus_tunnel_get_bytes_out (t) != out)
    nfltr_dbus_tunnel_set_bytes_out (t, out);

  /* Keep publishing until the last connection of a stopped tunnel has ended. */
  if (!self->config->enabled && active == 0)
    {
      nfltr_clear_source (&self->stats_source);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
ensure_stats_timer (NfltrTunnelImpl *self)
{
  if (self->stats_source == NULL)
    self->stats_source = nfltr_timeout_source_add (STATS_PERIOD_MS, stats_cb, self);
}

gboolean
nfltr_tunnel_load_certificate (const NfltrTunnelConfig *config,
                               const char              *domain,
                               const char              *certs_dir,
                               char                   **cert_pem,
                               char                   **key_pem,
                               GError                 **error)
{
  g_autofree char *public_host = g_strdup_printf ("%s.%s", config->name, domain);
  g_autofree char *crt_name = g_strdup_printf ("%s.crt", config->name);
  g_autofree char *key_name = g_strdup_printf ("%s.key", config->name);
  g_autofree char *crt_path = g_build_filename (certs_dir, crt_name, NULL);
  g_autofree char *key_path = g_build_filename (certs_dir, key_name, NULL);
  const char *dns_names[] = { public_host, NULL };

  g_autoptr(NfltrAcmeSettings) acme = nfltr_acme_settings_parse (config->kind_options, NULL);

  if (config->cert_file != NULL)
    return nfltr_cert_load_pair (config->cert_file, config->key_file, cert_pem, key_pem, error);
  /* Issue 11: the last ACME certificate while it is good; the renewer takes it from there. */
  if (acme != NULL && nfltr_acme_load_saved (acme, certs_dir, config->name, cert_pem, key_pem))
    return TRUE;
  /* Kept on disk so the fingerprint people pinned survives restarts. */
  return nfltr_cert_load_or_create (crt_path, key_path, dns_names, cert_pem, key_pem, error);
}

typedef struct {
  NfltrTunnelConfig *config;
  char *domain;
  char *certs_dir;
  char *cert_pem;
  char *key_pem;
} LoadCertificate;

static void
load_certificate_free (gpointer data)
{
  LoadCertificate *l = data;

  nfltr_tunnel_config_free (l->config);
  g_free (l->domain);
  g_free (l->certs_dir);
  g_free (l->cert_pem);
  g_free (l->key_pem);
  g_free (l);
}

static void
load_certificate_thread (GTask        *task,
                         gpointer      source_object,
                         gpointer      task_data,
                         GCancellable *cancellable)
{
  LoadCertificate *l = task_data;
  GError *error = NULL;

  if (nfltr_tunnel_load_certificate (l->config, l->domain, l->certs_dir, &l->cert_pem, &l->key_pem, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
nfltr_tunnel_load_certificate_async (const NfltrTunnelConfig *config,
                                     const char              *domain,
                                     const char              *certs_dir,
                                     GCancellable            *cancellable,
                                     GAsyncReadyCallback      callback,
                                     gpointer                 user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  LoadCertificate *l = g_new0 (LoadCertificate, 1);

  g_task_set_source_tag (task, nfltr_tunnel_load_certificate_async);
  l->config = nfltr_tunnel_config_copy (config);
  l->domain = g_strdup (domain);
  l->certs_dir = g_strdup (certs_dir);
  g_task_set_task_data (task, l, load_certificate_free);
  g_task_run_in_thread (task, load_certificate_thread);
}

gboolean
nfltr_tunnel_load_certificate_finish (GAsyncResult  *result,
                                      char         **cert_pem,
                                      char         **key_pem,
                                      GError       **error)
{
  LoadCertificate *l = g_task_get_task_data (G_TASK (result));

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return FALSE;
  *cert_pem = g_steal_pointer (&l->cert_pem);
  *key_pem = g_steal_pointer (&l->key_pem);
  return TRUE;
}

/* Issue 11: where the certificate comes from, its expiry, the ACME state. */
static void
publish_certificate (NfltrTunnelImpl *self, const char *cert_pem)
{
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);
  gint64 not_after = 0;
  const char *source = "generated";

  if (self->config->cert_file != NULL)
    source = "file";
  else if (self->acme_settings != NULL && !nfltr_acme_cert_is_self_signed (cert_pem))
    source = "acme";
  nfltr_acme_chain_info (cert_pem, NULL, NULL, NULL, &not_after, NULL);
  nfltr_dbus_tunnel_set_certificate_source (t, source);
  nfltr_dbus_tunnel_set_certificate_expires (t, not_after > 0 ? (guint64) not_after : 0);
  nfltr_dbus_tunnel_set_acme_domain (t, self->acme_settings != NULL ? self->acme_settings->domain : "");
  if (self->acme == NULL)
    {
      nfltr_dbus_tunnel_set_acme_status (t, self->acme_settings != NULL ? "pending" : "");
      nfltr_dbus_tunnel_set_acme_error (t, "");
    }
  else
    {
      nfltr_dbus_tunnel_set_acme_status (t, nfltr_acme_state_to_string (nfltr_acme_renewer_get_state (self->acme)));
      nfltr_dbus_tunnel_set_acme_error (t, nfltr_acme_renewer_get_error (self->acme));
    }
}

/* What visitors' clients will make of the certificate (issue 9 §1): shown next to the URL so
 * the publisher knows before a visitor complains. */
static void
set_certificate_trust (NfltrDbusTunnel *t, const NfltrTunnelConfig *config, const char *cert_pem,
                       const char *public_host, gboolean from_ca)
{
  g_autofree char *reason = NULL;
  const char *trust;

  if (!config->e2ee)
    trust = NFLTR_CERT_TRUST_RELAY;
  else if (config->cert_file == NULL && !from_ca)
    trust = NFLTR_CERT_TRUST_SELF_SIGNED;
  else if (nfltr_cert_chain_trusted (cert_pem, public_host, g_getenv ("NFLTR_TRUST_FILE"), &reason))
    trust = NFLTR_CERT_TRUST_TRUSTED;
  else
    trust = NFLTR_CERT_TRUST_UNTRUSTED;
  nfltr_dbus_tunnel_set_certificate (t, trust);
  nfltr_dbus_tunnel_set_certificate_reason (t, reason != NULL ? reason : "");
}

/* CreateTunnel's "allow-cidr" / "deny-cidr" (as), kept with the kind's options so that a
 * saved tunnel restores them. */
static gboolean
parse_access (NfltrTunnelImpl *self, GError **error)
{
  static const char * const keys[] = { "allow-cidr", "deny-cidr" };
  NfltrCidrList **lists[] = { &self->allow, &self->deny };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree const char **entries = NULL;

      if (self->config->kind_options == NULL ||
          !g_variant_lookup (self->config->kind_options, keys[i], "^a&s", &entries) || entries[0] == NULL)
        continue;
      *lists[i] = nfltr_cidr_list_parse (entries, error);
      if (*lists[i] == NULL)
        {
          g_prefix_error (error, "%s: ", keys[i]);
          return FALSE;
        }
    }
  return TRUE;
}

/* CreateTunnel's "client-ca" (s, an absolute path): visitors need a certificate from it. */
static gboolean
require_client_ca (NfltrTunnelImpl *self, GError **error)
{
  const char *ca_file = NULL;

  if (self->config->kind_options == NULL ||
      !g_variant_lookup (self->config->kind_options, "client-ca", "&s", &ca_file))
    return TRUE;
  if (!self->config->e2ee)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "client-ca needs verified mode: with --e2ee=false the relay, not this "
                           "machine, terminates the visitors' TLS");
      return FALSE;
    }
  return nfltr_tunnel_tls_require_client_ca (self->tls, ca_file, error);
}

NfltrTunnelImpl *
nfltr_tunnel_impl_new (const NfltrTunnelConfig *config,
                       gboolean                 transient,
                       const char              *domain,
                       const char              *cert_pem,
                       const char              *key_pem,
                       GError                 **error)
{
  g_autoptr(NfltrTunnelImpl) self = g_object_new (NFLTR_TYPE_TUNNEL_IMPL, NULL);
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);
  g_autofree char *fp = NULL;
  g_autofree char *target = NULL;

  self->config = nfltr_tunnel_config_copy (config);

  /* A kind this service does not know (tunnels.json from a newer version) is an error like
   * a bad target: the manager keeps the entry in the file and goes on. */
  self->kind = nfltr_tunnel_kind_lookup (config->kind);
  if (self->kind == NULL)
    {
      nfltr_tunnel_kind_set_unknown_error (error, config->kind);
      return NULL;
    }
  g_object_ref (self->kind);
  self->kind_config = nfltr_tunnel_kind_parse (self->kind, config->target, config->kind_options, error);
  if (self->kind_config == NULL)
    return NULL;
  /* Saved and shown as the kind writes it, so "3000" becomes "127.0.0.1:3000" once. */
  target = nfltr_tunnel_kind_describe_target (self->kind, self->kind_config);
  g_free (self->config->target);
  self->config->target = g_strdup (target);

  self->public_host = g_strdup_printf ("%s.%s", config->name, domain);
  if (!parse_access (self, error))
    return NULL;

  /* Issue 11: ACME needs the agent's own key (not a user's --e2ee-cert) and verified mode. */
  self->acme_settings = nfltr_acme_settings_parse (config->kind_options, error);
  if (self->acme_settings == NULL && error != NULL && *error != NULL)
    return NULL;
  if (self->acme_settings != NULL && (config->cert_file != NULL || !config->e2ee))
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           config->cert_file != NULL
                             ? "acme-domain and cert-file exclude each other: the certificate comes "
                               "from the CA or from the file"
                             : "acme-domain needs verified mode: with --e2ee=false visitors see the "
                               "relay's certificate");
      return NULL;
    }
  if (!nfltr_fingerprint_of_pem (cert_pem, strlen (cert_pem), self->fingerprint, error))
    return NULL;
  self->cert_pem = g_strdup (cert_pem);
  if (self->acme_settings != NULL)
    self->key_pem = g_strdup (key_pem);
  self->tls = nfltr_tunnel_tls_new (cert_pem, key_pem, error);
  if (self->tls == NULL)
    return NULL;
  if (!require_client_ca (self, error))
    return NULL;
  fp = nfltr_fingerprint_format (self->fingerprint);

  nfltr_dbus_tunnel_set_id (t, config->id);
  nfltr_dbus_tunnel_set_name (t, config->name);
  nfltr_dbus_tunnel_set_kind (t, config->kind);
  nfltr_dbus_tunnel_set_target (t, target);
  nfltr_dbus_tunnel_set_public_url (t, "");
  nfltr_dbus_tunnel_set_mode (t, config->e2ee ? "verified" : "inspectable");
  nfltr_dbus_tunnel_set_fingerprint (t, fp);
  set_certificate_trust (t, config, cert_pem, self->public_host,
                         self->acme_settings != NULL && !nfltr_acme_cert_is_self_signed (cert_pem));
  publish_certificate (self, cert_pem);
  nfltr_dbus_tunnel_set_state (t, nfltr_tunnel_state_to_string (self->state));
  nfltr_dbus_tunnel_set_last_error (t, "");
  nfltr_dbus_tunnel_set_transient (t, transient);
  nfltr_dbus_tunnel_set_origin_state (t, "unknown");
  nfltr_dbus_tunnel_set_origin_error (t, "");

  return g_steal_pointer (&self);
}

const NfltrTunnelConfig *
nfltr_tunnel_impl_get_config (NfltrTunnelImpl *self)
{
  return self->config;
}

/* issue 9 §8: the inspector's registry key */
GVariant *
nfltr_tunnel_impl_get_kind_config (NfltrTunnelImpl *self)
{
  return self->kind_config;
}

const char *
nfltr_tunnel_impl_get_name (NfltrTunnelImpl *self)
{
  return self->config->name;
}

NfltrTunnelState
nfltr_tunnel_impl_get_state (NfltrTunnelImpl *self)
{
  return self->state;
}

const char *
nfltr_tunnel_impl_get_owner (NfltrTunnelImpl *self)
{
  return self->owner;
}

void
nfltr_tunnel_impl_set_owner (NfltrTunnelImpl *self, const char *owner)
{
  g_free (self->owner);
  self->owner = g_strdup (owner);
}

void
nfltr_tunnel_impl_set_enabled (NfltrTunnelImpl *self, gboolean enabled)
{
  self->config->enabled = enabled;
}

static void
bind_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  NfltrTunnelImpl *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  if (!nfltr_tunnel_binder_bind_finish (NFLTR_TUNNEL_BINDER (source), result, &url, &error))
    {
      if (GPOINTER_TO_UINT (g_task_get_task_data (task)) == self->start_serial &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* An unreachable relay is temporary: the link keeps the name and binds it when
           * it is back. Anything else needs the user. */
          if (g_error_matches (error, NFLTR_ERROR, NFLTR_ERROR_RELAY_UNREACHABLE))
            set_state (self,
                       self->state == NFLTR_TUNNEL_STARTING || self->state == NFLTR_TUNNEL_CONNECTING
                         ? NFLTR_TUNNEL_CONNECTING
                         : NFLTR_TUNNEL_RECONNECTING,
                       error->message);
          else
            set_state (self, NFLTR_TUNNEL_FAILED, error->message);
        }
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* Online before the caller hears back, so CreateTunnel's reply comes with the URL. */
  if (GPOINTER_TO_UINT (g_task_get_task_data (task)) == self->start_serial)
    nfltr_tunnel_impl_bound (self, NULL, url);
  g_task_return_boolean (task, TRUE);
}

void
nfltr_tunnel_impl_start_async (NfltrTunnelImpl     *self,
                               NfltrTunnelBinder   *binder,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);

  g_task_set_source_tag (task, nfltr_tunnel_impl_start_async);
  g_task_set_task_data (task, GUINT_TO_POINTER (++self->start_serial), NULL);

  self->config->enabled = TRUE;
  if (!self->kind_started)
    {
      g_autoptr(GError) error = NULL;

      if (!nfltr_tunnel_kind_start (self->kind, self->kind_config, &error))
        {
          set_state (self, NFLTR_TUNNEL_FAILED, error->message);
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      self->kind_started = TRUE;
      /* Issue 11: the kind's pages show the certificate visitors really get. */
      nfltr_tunnel_kind_certificate_changed (self->kind, self->kind_config, self->cert_pem,
                                             nfltr_dbus_tunnel_get_fingerprint (NFLTR_DBUS_TUNNEL (self)));
    }
  g_set_weak_pointer (&self->binder, binder);
  if (self->group == NULL)
    self->group = nfltr_data_conn_group_new ();
  /* With the relay away the BIND waits for it (a connect attempt may take 30 s): say so. */
  if (nfltr_relay_link_get_state (nfltr_tunnel_binder_get_link (binder)) == NFLTR_RELAY_LINK_CONNECTED)
    set_state (self, NFLTR_TUNNEL_STARTING, "");
  else
    set_state (self, NFLTR_TUNNEL_CONNECTING, "");
  ensure_stats_timer (self);

  nfltr_tunnel_binder_bind_async (binder, self->config->name,
                                  self->config->e2ee ? NFLTR_MODE_VERIFIED : NFLTR_MODE_INSPECTABLE,
                                  self->fingerprint, self->config->kind, NULL,
                                  bind_cb, g_steal_pointer (&task));
}

gboolean
nfltr_tunnel_impl_start_finish (NfltrTunnelImpl  *self,
                                GAsyncResult     *result,
                                GError          **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* After the data connections were cancelled: a backend the kind runs in-process may still
 * see their sockets close, never new ones. */
static void
stop_kind (NfltrTunnelImpl *self)
{
  if (self->kind_started)
    {
      self->kind_started = FALSE;
      nfltr_tunnel_kind_stop (self->kind, self->kind_config);
    }
}

void
nfltr_tunnel_impl_stop (NfltrTunnelImpl *self, NfltrTunnelBinder *binder)
{
  self->config->enabled = FALSE;
  self->start_serial++;
  if (binder != NULL)
    nfltr_tunnel_binder_unbind (binder, self->config->name);
  if (self->group != NULL)
    {
      /* A cancelled group ends new connections at once; the next start gets a fresh one. */
      nfltr_data_conn_group_cancel_all (self->group);
      g_clear_pointer (&self->group, nfltr_data_conn_group_unref);
    }
  stop_kind (self);
  set_state (self, NFLTR_TUNNEL_STOPPED, NULL);
}

void
nfltr_tunnel_impl_bound (NfltrTunnelImpl *self, const char *host, const char *url)
{
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);
  g_autofree char *public_url = NULL;

  if (!self->config->enabled)
    return;
  if (host != NULL && *host != '\0')
    {
      g_free (self->public_host);
      self->public_host = g_strdup (host);
    }
  public_url = nfltr_tunnel_kind_public_url (self->kind, url);
  nfltr_dbus_tunnel_set_public_url (t, public_url);
  if (self->state != NFLTR_TUNNEL_ONLINE)
    {
      nfltr_dbus_tunnel_set_online_since (t, (guint64) (g_get_real_time () / G_USEC_PER_SEC));
      set_state (self, NFLTR_TUNNEL_ONLINE, "");
    }
}

void
nfltr_tunnel_impl_failed (NfltrTunnelImpl *self, const GError *error)
{
  set_state (self, NFLTR_TUNNEL_FAILED, error->message);
}

void
nfltr_tunnel_impl_link_changed (NfltrTunnelImpl *self, NfltrRelayLink *link)
{
  const GError *error = link ? nfltr_relay_link_get_error (link) : NULL;

  if (!self->config->enabled)
    return;

  switch (link ? nfltr_relay_link_get_state (link) : NFLTR_RELAY_LINK_STOPPED)
    {
    case NFLTR_RELAY_LINK_CONNECTED:
      /* The link re-binds every wanted name; BOUND brings us back online. */
      break;
    case NFLTR_RELAY_LINK_CONNECTING:
    case NFLTR_RELAY_LINK_UNREACHABLE:
      if (self->state == NFLTR_TUNNEL_ONLINE || self->state == NFLTR_TUNNEL_FAILED)
        set_state (self, NFLTR_TUNNEL_RECONNECTING, error ? error->message : NULL);
      break;
    case NFLTR_RELAY_LINK_AUTH_FAILED:
    case NFLTR_RELAY_LINK_FINGERPRINT_MISMATCH:
      set_state (self, NFLTR_TUNNEL_FAILED, error ? error->message : NULL);
      break;
    case NFLTR_RELAY_LINK_STOPPED:
    default: set_state (self, NFLTR_TUNNEL_STOPPED, NULL); break;
    }
}

/* ---- issue 11 item 7: ACME ---- */

static void
rebind_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrTunnelImpl) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  if (!nfltr_tunnel_binder_bind_finish (NFLTR_TUNNEL_BINDER (source), result, &url, &error))
    g_message ("tunnel %s: re-binding with the new certificate: %s", self->config->name, error->message);
}

/* The new certificate replaces the old one for every connection from now on (those open keep
 * theirs); the fingerprint follows everywhere, and the relay is told by a new BIND (its proof
 * check looks again). */
static void
install_certificate (NfltrTunnelImpl *self, const char *cert_pem, const char *key_pem)
{
  NfltrDbusTunnel *t = NFLTR_DBUS_TUNNEL (self);
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrTunnelTls) tls = nfltr_tunnel_tls_new (cert_pem, key_pem, &error);
  const char *ca_file = NULL;
  g_autofree char *fp = NULL;

  if (tls != NULL && self->config->kind_options != NULL &&
      g_variant_lookup (self->config->kind_options, "client-ca", "&s", &ca_file) &&
      !nfltr_tunnel_tls_require_client_ca (tls, ca_file, &error))
    g_clear_pointer (&tls, nfltr_tunnel_tls_unref);
  if (tls == NULL || !nfltr_fingerprint_of_pem (cert_pem, strlen (cert_pem), self->fingerprint, &error))
    {
      g_message ("tunnel %s: the new certificate cannot be used: %s", self->config->name, error->message);
      return;
    }
  g_clear_pointer (&self->tls, nfltr_tunnel_tls_unref);
  self->tls = g_steal_pointer (&tls);
  nfltr_acme_renewer_set_tls (self->acme, self->tls);
  g_free (self->cert_pem);
  self->cert_pem = g_strdup (cert_pem);
  fp = nfltr_fingerprint_format (self->fingerprint);
  g_message ("tunnel %s: new certificate %s", self->config->name, fp);
  nfltr_dbus_tunnel_set_fingerprint (t, fp);
  set_certificate_trust (t, self->config, cert_pem, self->public_host, TRUE);
  publish_certificate (self, cert_pem);
  if (self->kind_started)
    nfltr_tunnel_kind_certificate_changed (self->kind, self->kind_config, cert_pem, fp);
  if (self->config->enabled && self->binder != NULL)
    nfltr_tunnel_binder_bind_async (self->binder, self->config->name,
                                    self->config->e2ee ? NFLTR_MODE_VERIFIED : NFLTR_MODE_INSPECTABLE,
                                    self->fingerprint, self->config->kind, NULL, rebind_cb,
                                    g_object_ref (self));
}

static void
acme_issued_cb (NfltrAcmeRenewer *renewer, const char *cert_pem, const char *key_pem, gpointer user_data)
{
  install_certificate (NFLTR_TUNNEL_IMPL (user_data), cert_pem, key_pem);
}

static void
acme_changed_cb (NfltrAcmeRenewer *renewer, gpointer user_data)
{
  NfltrTunnelImpl *self = user_data;

  publish_certificate (self, self->cert_pem);
}

void
nfltr_tunnel_impl_use_acme (NfltrTunnelImpl *self, const char *certs_dir)
{
  if (self->acme_settings == NULL || self->acme != NULL)
    return;
  self->acme = nfltr_acme_renewer_new (self->acme_settings, certs_dir, self->config->name, self->cert_pem,
                                       self->key_pem);
  explicit_bzero (self->key_pem, strlen (self->key_pem));
  g_clear_pointer (&self->key_pem, g_free);
  nfltr_acme_renewer_set_tls (self->acme, self->tls);
  g_signal_connect (self->acme, "issued", G_CALLBACK (acme_issued_cb), self);
  g_signal_connect (self->acme, "changed", G_CALLBACK (acme_changed_cb), self);
  publish_certificate (self, self->cert_pem);
  nfltr_acme_renewer_set_online (self->acme, self->state == NFLTR_TUNNEL_ONLINE);
}

void
nfltr_tunnel_impl_open_conn (NfltrTunnelImpl *self, NfltrTunnelBinder *binder, GBytes *conn_id,
                             const char *client_addr)
{
  NfltrDataConnParams params = { 0 };
  NfltrRelayLink *link = nfltr_tunnel_binder_get_link (binder);
  g_autoptr(GError) error = NULL;

  if (!self->config->enabled || self->group == NULL ||
      g_bytes_get_size (conn_id) != NFLTR_PROTO_CONN_ID_SIZE)
    {
      nfltr_tunnel_binder_refuse (binder, conn_id, "tunnel is stopped");
      return;
    }

  params.relay_host = nfltr_relay_link_get_host (link);
  params.relay_port = nfltr_relay_link_get_port (link);
  params.conn_id = g_bytes_get_data (conn_id, NULL);
  params.kind = self->kind;
  params.kind_config = self->kind_config;
  params.public_host = self->public_host;
  params.client_addr = client_addr;
  params.allow = self->allow;
  params.deny = self->deny;
  g_debug ("tunnel %s: connection from %s", self->config->name, client_addr);
  if (!nfltr_data_conn_spawn (&params, self->tls, self->stats, self->group, &error))
    {
      /* The reason code comes first: the relay logs it with the refusal. */
      nfltr_tunnel_binder_refuse (binder, conn_id, error->message);
      return;
    }
  ensure_stats_timer (self);
}

static void
nfltr_tunnel_impl_dispose (GObject *object)
{
  NfltrTunnelImpl *self = NFLTR_TUNNEL_IMPL (object);

  nfltr_clear_source (&self->stats_source);
  if (self->acme != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->acme, self);
      nfltr_acme_renewer_stop (self->acme);
      g_clear_object (&self->acme);
    }
  g_clear_weak_pointer (&self->binder);
  if (self->group != NULL)
    {
      nfltr_data_conn_group_cancel_all (self->group);
      g_clear_pointer (&self->group, nfltr_data_conn_group_unref);
    }
  if (self->kind != NULL)
    stop_kind (self);

  G_OBJECT_CLASS (nfltr_tunnel_impl_parent_class)->dispose (object);
}

static void
nfltr_tunnel_impl_finalize (GObject *object)
{
  NfltrTunnelImpl *self = NFLTR_TUNNEL_IMPL (object);

  g_clear_pointer (&self->config, nfltr_tunnel_config_free);
  g_clear_pointer (&self->tls, nfltr_tunnel_tls_unref);
  g_clear_pointer (&self->stats, nfltr_tunnel_stats_unref);
  g_clear_pointer (&self->allow, nfltr_cidr_list_unref);
  g_clear_pointer (&self->deny, nfltr_cidr_list_unref);
  g_clear_pointer (&self->kind_config, g_variant_unref);
  g_clear_object (&self->kind);
  g_free (self->owner);
  g_free (self->public_host);
  g_free (self->cert_pem);
  if (self->key_pem != NULL)
    explicit_bzero (self->key_pem, strlen (self->key_pem));
  g_free (self->key_pem);
  g_clear_pointer (&self->acme_settings, nfltr_acme_settings_free);

  G_OBJECT_CLASS (nfltr_tunnel_impl_parent_class)->finalize (object);
}

static void
nfltr_tunnel_impl_class_init (NfltrTunnelImplClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_tunnel_impl_dispose;
  object_class->finalize = nfltr_tunnel_impl_finalize;
}

static void
nfltr_tunnel_impl_init (NfltrTunnelImpl *self)
{
  self->stats = nfltr_tunnel_stats_new ();
}
