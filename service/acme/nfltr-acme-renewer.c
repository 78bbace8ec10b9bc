/* nfltr-acme-renewer.c — when a tunnel's ACME certificate is obtained and renewed */
#define G_LOG_DOMAIN "nfltr-acme"

#include "nfltr-acme-renewer.h"

#include <glib/gstdio.h>
#include <string.h>

#include "nfltr-acme-cert.h"
#include "nfltr-acme-client.h"
#include "nfltr-acme-jws.h"
#include "nfltr-error.h"
#include "nfltr-tunnel-tls-acme.h"

/* Renewal at 2/3 of the lifetime (Let's Encrypt's advice for its 90-day certificates: renew
 * with 30 days left), minus up to 1/30 of it as jitter. */
#define RENEW_NUMERATOR 2
#define RENEW_DENOMINATOR 3
#define RENEW_JITTER_DIV 30
/* Backoff after a failure: the first step, doubled each time, at most the cap; ±25 %. */
#define RETRY_FIRST_S (5 * 60)
#define RETRY_MAX_S (12 * 3600)

struct _NfltrAcmeRenewer {
  GObject parent_instance;

  NfltrAcmeSettings *settings;
  char *name;
  char *certs_dir;
  char *account_key_path;
  char *key_pem; /* the key the next certificate is for */
  NfltrTunnelTls *tls;
  GMainContext *context;

  NfltrAcmeState state;
  char *error;
  gint64 not_before, not_after; /* the current ACME certificate's, 0 when none */
  gint64 next_attempt;          /* real time (s) of the next issuance, 0 = as soon as online */
  gint64 announced_attempt;     /* the due time last written to the log */
  guint failures;
  gboolean online;
  GCancellable *cancellable; /* the running issuance, or NULL */
  GSource *timer;
};

enum {
  SIGNAL_ISSUED,
  SIGNAL_CHANGED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (NfltrAcmeRenewer, nfltr_acme_renewer, G_TYPE_OBJECT)

static void schedule (NfltrAcmeRenewer *self);

const char *
nfltr_acme_state_to_string (NfltrAcmeState state)
{
  switch (state)
    {
      case NFLTR_ACME_STATE_PENDING: return "pending";
      case NFLTR_ACME_STATE_ISSUING: return "issuing";
      case NFLTR_ACME_STATE_VALID: return "valid";
      case NFLTR_ACME_STATE_FAILED: return "failed";
      default: g_return_val_if_reached ("failed");
    }
}

/* ---- settings ---- */

static gboolean
name_is_dns (const char *name)
{
  gsize len = strlen (name);
  const char *label = name;

  if (len == 0 || len > 253 || strchr (name, '.') == NULL)
    return FALSE;
  for (const char *p = name;; p++)
    {
      if (*p == '.' || *p == '\0')
        {
          gsize n = p - label;

          if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
            return FALSE;
          if (*p == '\0')
            return TRUE;
          label = p + 1;
        }
      else if (!g_ascii_isalnum (*p) && *p != '-')
        return FALSE;
    }
}

NfltrAcmeSettings *
nfltr_acme_settings_parse (GVariant *options, GError **error)
{
  g_autoptr(NfltrAcmeSettings) s = NULL;
  const char *domain = NULL, *directory = NULL, *ca_bundle = NULL, *email = NULL;

  if (options == NULL || !g_variant_lookup (options, NFLTR_ACME_OPTION_DOMAIN, "&s", &domain))
    return NULL;
  s = g_new0 (NfltrAcmeSettings, 1);
  s->domain = g_ascii_strdown (domain, -1);
  if (!name_is_dns (s->domain))
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "acme-domain: “%s” is not a DNS name (a certificate names one host, e.g. "
                   "myapp.example.com; wildcards need DNS-01, which an agent cannot answer)", domain);
      return NULL;
    }
  if (g_variant_lookup (options, NFLTR_ACME_OPTION_DIRECTORY, "&s", &directory) && *directory != '\0')
    {
      if (!g_str_has_prefix (directory, "https://"))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "acme-directory: “%s” is not an https:// URL (RFC 8555 §6.1)", directory);
          return NULL;
        }
      s->directory = g_strdup (directory);
    }
  else
    s->directory = g_strdup (NFLTR_ACME_DEFAULT_DIRECTORY);
  if (g_variant_lookup (options, NFLTR_ACME_OPTION_CA_BUNDLE, "&s", &ca_bundle) && *ca_bundle != '\0')
    {
      if (!g_path_is_absolute (ca_bundle) || g_access (ca_bundle, R_OK) != 0)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "acme-ca-bundle: cannot read “%s” (an absolute path)", ca_bundle);
          return NULL;
        }
      s->ca_bundle = g_strdup (ca_bundle);
    }
  if (g_variant_lookup (options, NFLTR_ACME_OPTION_EMAIL, "&s", &email) && *email != '\0')
    {
      if (strchr (email, '@') == NULL || strpbrk (email, " \t\r\n\",<>") != NULL)
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "acme-email: “%s” is not an e-mail address", email);
          return NULL;
        }
      s->email = g_strdup (email);
    }
  g_variant_lookup (options, NFLTR_ACME_OPTION_NEW_KEY, "b", &s->new_key);
  return g_steal_pointer (&s);
}

void
nfltr_acme_settings_free (NfltrAcmeSettings *settings)
{
  if (settings == NULL)
    return;
  g_free (settings->domain);
  g_free (settings->directory);
  g_free (settings->ca_bundle);
  g_free (settings->email);
  g_free (settings);
}

static NfltrAcmeSettings *
settings_copy (const NfltrAcmeSettings *s)
{
  NfltrAcmeSettings *c = g_new0 (NfltrAcmeSettings, 1);

  c->domain = g_strdup (s->domain);
  c->directory = g_strdup (s->directory);
  c->ca_bundle = g_strdup (s->ca_bundle);
  c->email = g_strdup (s->email);
  c->new_key = s->new_key;
  return c;
}

static char *
saved_path (const char *certs_dir, const char *name, const char *ext)
{
  g_autofree char *file = g_strdup_printf ("%s.acme.%s", name, ext);

  return g_build_filename (certs_dir, file, NULL);
}

gboolean
nfltr_acme_load_saved (const NfltrAcmeSettings *settings,
                       const char              *certs_dir,
                       const char              *name,
                       char                   **cert_pem,
                       char                   **key_pem)
{
  g_autofree char *crt_path = saved_path (certs_dir, name, "crt");
  g_autofree char *key_path = saved_path (certs_dir, name, "key");
  g_autofree char *crt = NULL, *key = NULL;
  g_autoptr(GError) error = NULL;
  gint64 not_after = 0;

  if (!g_file_get_contents (crt_path, &crt, NULL, NULL) || !g_file_get_contents (key_path, &key, NULL, NULL))
    return FALSE;
  if (!nfltr_acme_chain_info (crt, key, settings->domain, NULL, &not_after, &error) ||
      not_after <= g_get_real_time () / G_USEC_PER_SEC)
    {
      g_debug ("%s: not used (%s)", crt_path, error != NULL ? error->message : "expired");
      return FALSE;
    }
  *cert_pem = g_steal_pointer (&crt);
  *key_pem = g_steal_pointer (&key);
  return TRUE;
}

/* ---- the renewer ---- */

static void
emit_changed (NfltrAcmeRenewer *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
set_current (NfltrAcmeRenewer *self, const char *cert_pem)
{
  gint64 nb = 0, na = 0;

  self->not_before = self->not_after = 0;
  if (cert_pem != NULL && nfltr_acme_chain_info (cert_pem, NULL, NULL, &nb, &na, NULL) && na > nb)
    {
      gint64 lifetime = na - nb;
      gint64 jitter = g_random_int_range (0, (gint32) MAX (1, MIN (lifetime / RENEW_JITTER_DIV, G_MAXINT32)));

      self->not_before = nb;
      self->not_after = na;
      self->next_attempt = nb + lifetime * RENEW_NUMERATOR / RENEW_DENOMINATOR - jitter;
      g_debug ("ACME certificate of %s: valid until %" G_GINT64_FORMAT ", renewal at %" G_GINT64_FORMAT,
               self->settings->domain, na, self->next_attempt);
    }
}

typedef struct {
  NfltrAcmeSettings *settings;
  char *account_key_path;
  char *key_pem;
  char *crt_path;
  char *key_path;
  NfltrTunnelTls *tls;
  char *chain;       /* out */
  char *new_key_pem; /* out */
} Issue;

static void
issue_free (gpointer data)
{
  Issue *i = data;

  nfltr_acme_settings_free (i->settings);
  g_free (i->account_key_path);
  if (i->key_pem != NULL)
    explicit_bzero (i->key_pem, strlen (i->key_pem));
  g_free (i->key_pem);
  g_free (i->crt_path);
  g_free (i->key_path);
  g_clear_pointer (&i->tls, nfltr_tunnel_tls_unref);
  g_free (i->chain);
  if (i->new_key_pem != NULL)
    explicit_bzero (i->new_key_pem, strlen (i->new_key_pem));
  g_free (i->new_key_pem);
  g_free (i);
}

static gboolean
set_challenge_cb (const char *domain, const char *cert_pem, const char *key_pem, gpointer user_data,
                  GError **error)
{
  Issue *i = user_data;

  if (cert_pem == NULL)
    {
      nfltr_tunnel_tls_clear_acme_challenge (i->tls);
      return TRUE;
    }
  return nfltr_tunnel_tls_set_acme_challenge (i->tls, domain, cert_pem, key_pem, error);
}

static void
issue_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Issue *i = task_data;
  GError *error = NULL;
  NfltrAcmeRequest request = {
    .directory_url = i->settings->directory,
    .ca_bundle = i->settings->ca_bundle,
    .email = i->settings->email,
    .account_key_path = i->account_key_path,
    .domain = i->settings->domain,
    .key_pem = i->key_pem,
  };

  /* acme-new-key: a fresh key for this certificate (the pin changes). */
  if (i->settings->new_key)
    {
      g_autoptr(NfltrAcmeKey) key = nfltr_acme_key_generate (&i->new_key_pem, &error);

      if (key == NULL)
        {
          g_task_return_error (task, error);
          return;
        }
      request.key_pem = i->new_key_pem;
    }
  i->chain = nfltr_acme_issue (&request, set_challenge_cb, i, cancellable, &error);
  if (i->chain == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* The key first: a certificate on disk without its key would be useless at restart. */
  if (!g_file_set_contents_full (i->key_path, request.key_pem, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error) ||
      !g_file_set_contents_full (i->crt_path, i->chain, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
    {
      g_prefix_error (&error, "ACME: the certificate was issued but cannot be saved: ");
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static guint
retry_delay_s (NfltrAcmeRenewer *self)
{
  const char *env = g_getenv ("NFLTR_ACME_RETRY_S");
  guint64 first = RETRY_FIRST_S;
  guint64 delay;

  if (env != NULL)
    g_ascii_string_to_unsigned (env, 10, 1, RETRY_MAX_S, &first, NULL);
  delay = first << MIN (self->failures - 1, 16u);
  delay = MIN (delay, RETRY_MAX_S);
  /* ±25 %: agents that failed together do not come back together. */
  return (guint) MAX (1, delay * (guint64) g_random_int_range (75, 126) / 100);
}

static void
issue_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NfltrAcmeRenewer *self = NFLTR_ACME_RENEWER (source);
  Issue *i = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  g_clear_object (&self->cancellable);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      self->failures++;
      self->next_attempt = g_get_real_time () / G_USEC_PER_SEC + retry_delay_s (self);
      g_message ("ACME certificate for %s: %s (next attempt in %" G_GINT64_FORMAT " s)", self->settings->domain,
                 error->message, self->next_attempt - g_get_real_time () / G_USEC_PER_SEC);
      self->state = NFLTR_ACME_STATE_FAILED;
      g_free (self->error);
      self->error = g_strdup (error->message);
      emit_changed (self);
      schedule (self);
      return;
    }
  self->failures = 0;
  if (i->new_key_pem != NULL)
    {
      g_free (self->key_pem);
      self->key_pem = g_strdup (i->new_key_pem);
    }
  set_current (self, i->chain);
  g_message ("ACME certificate for %s issued, valid until %" G_GINT64_FORMAT, self->settings->domain,
             self->not_after);
  self->state = NFLTR_ACME_STATE_VALID;
  g_free (self->error);
  self->error = g_strdup ("");
  g_signal_emit (self, signals[SIGNAL_ISSUED], 0, i->chain, self->key_pem);
  emit_changed (self);
  schedule (self);
}

static void
start_issue (NfltrAcmeRenewer *self)
{
  g_autoptr(GTask) task = NULL;
  Issue *i;

  g_return_if_fail (self->tls != NULL);
  self->cancellable = g_cancellable_new ();
  task = g_task_new (self, self->cancellable, issue_done_cb, NULL);
  g_task_set_source_tag (task, start_issue);
  i = g_new0 (Issue, 1);
  i->settings = settings_copy (self->settings);
  i->account_key_path = g_strdup (self->account_key_path);
  i->key_pem = g_strdup (self->key_pem);
  i->crt_path = saved_path (self->certs_dir, self->name, "crt");
  i->key_path = saved_path (self->certs_dir, self->name, "key");
  i->tls = nfltr_tunnel_tls_ref (self->tls);
  g_task_set_task_data (task, i, issue_free);
  self->state = NFLTR_ACME_STATE_ISSUING;
  emit_changed (self);
  g_debug ("ACME: %s a certificate for %s from %s", self->not_after ? "renewing" : "obtaining",
           self->settings->domain, self->settings->directory);
  g_task_run_in_thread (task, issue_thread);
}

static gboolean
timer_cb (gpointer user_data)
{
  NfltrAcmeRenewer *self = user_data;

  /* schedule () drops this source (the timer) before anything else. */
  schedule (self);
  return G_SOURCE_REMOVE;
}

/* Starts an issuance when it is due and possible, else sets the timer for when it is due. */
static void
schedule (NfltrAcmeRenewer *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->cancellable != NULL || !self->online || self->tls == NULL)
    return;
  if (self->next_attempt <= now)
    {
      start_issue (self);
      return;
    }
  if (self->announced_attempt != self->next_attempt)
    {
      self->announced_attempt = self->next_attempt;
      g_message ("ACME certificate for %s: next renewal attempt in %" G_GINT64_FORMAT " s", self->settings->domain,
                 self->next_attempt - now);
    }
  /* At most a day at a time: a suspended machine's clock jumps. */
  self->timer = g_timeout_source_new_seconds ((guint) MIN (self->next_attempt - now, 24 * 3600));
  g_source_set_callback (self->timer, timer_cb, self, NULL);
  g_source_attach (self->timer, self->context);
}

NfltrAcmeRenewer *
nfltr_acme_renewer_new (const NfltrAcmeSettings *settings,
                        const char              *certs_dir,
                        const char              *name,
                        const char              *cert_pem,
                        const char              *key_pem)
{
  NfltrAcmeRenewer *self = g_object_new (NFLTR_TYPE_ACME_RENEWER, NULL);
  g_autofree char *data_dir = g_path_get_dirname (certs_dir);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, settings->directory, -1);
  g_autofree char *file = NULL;
  g_autofree char *saved_crt = NULL, *saved_key = NULL;

  self->settings = settings_copy (settings);
  self->name = g_strdup (name);
  self->certs_dir = g_strdup (certs_dir);
  /* One account per CA directory, shared by the agent's tunnels. */
  hash[16] = '\0';
  file = g_strdup_printf ("account-%s.key", hash);
  self->account_key_path = g_build_filename (data_dir, "acme", file, NULL);
  self->key_pem = g_strdup (key_pem);
  self->error = g_strdup ("");
  self->context = g_main_context_ref_thread_default ();
  /* The tunnel starts with the saved ACME certificate when there is one (it is then this
   * one); otherwise the first issuance is due as soon as the tunnel is online. */
  if (nfltr_acme_chain_info (cert_pem, NULL, settings->domain, NULL, NULL, NULL) &&
      nfltr_acme_load_saved (settings, certs_dir, name, &saved_crt, &saved_key) &&
      g_str_equal (saved_crt, cert_pem))
    {
      set_current (self, cert_pem);
      self->state = NFLTR_ACME_STATE_VALID;
    }
  return self;
}

void
nfltr_acme_renewer_set_tls (NfltrAcmeRenewer *self, NfltrTunnelTls *tls)
{
  g_clear_pointer (&self->tls, nfltr_tunnel_tls_unref);
  self->tls = tls != NULL ? nfltr_tunnel_tls_ref (tls) : NULL;
}

void
nfltr_acme_renewer_set_online (NfltrAcmeRenewer *self, gboolean online)
{
  if (self->online == online)
    return;
  self->online = online;
  schedule (self);
}

void
nfltr_acme_renewer_stop (NfltrAcmeRenewer *self)
{
  self->online = FALSE;
  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
}

NfltrAcmeState
nfltr_acme_renewer_get_state (NfltrAcmeRenewer *self)
{
  return self->state;
}

const char *
nfltr_acme_renewer_get_error (NfltrAcmeRenewer *self)
{
  return self->error;
}

gint64
nfltr_acme_renewer_get_expires (NfltrAcmeRenewer *self)
{
  return self->not_after;
}

const char *
nfltr_acme_renewer_get_domain (NfltrAcmeRenewer *self)
{
  return self->settings->domain;
}

static void
nfltr_acme_renewer_dispose (GObject *object)
{
  NfltrAcmeRenewer *self = NFLTR_ACME_RENEWER (object);

  nfltr_acme_renewer_stop (self);
  G_OBJECT_CLASS (nfltr_acme_renewer_parent_class)->dispose (object);
}

static void
nfltr_acme_renewer_finalize (GObject *object)
{
  NfltrAcmeRenewer *self = NFLTR_ACME_RENEWER (object);

  nfltr_acme_settings_free (self->settings);
  g_free (self->name);
  g_free (self->certs_dir);
  g_free (self->account_key_path);
  if (self->key_pem != NULL)
    explicit_bzero (self->key_pem, strlen (self->key_pem));
  g_free (self->key_pem);
  g_clear_pointer (&self->tls, nfltr_tunnel_tls_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->error);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (nfltr_acme_renewer_parent_class)->finalize (object);
}

static void
nfltr_acme_renewer_class_init (NfltrAcmeRenewerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = nfltr_acme_renewer_dispose;
  object_class->finalize = nfltr_acme_renewer_finalize;
  signals[SIGNAL_ISSUED] = g_signal_new ("issued", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                         NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                          NULL, G_TYPE_NONE, 0);
}

static void
nfltr_acme_renewer_init (NfltrAcmeRenewer *self)
{
}
