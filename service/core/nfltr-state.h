/* nfltr-state.h — the agent's files: relay.json, tunnels.json, agent-id (docs/service.md). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char    *host;
  guint16  port;
  char    *fingerprint;   /* pinned "sha256:<hex>" */
  char    *domain;        /* from the last WELCOME, may be NULL */
  char    *signing_key;   /* issue 11: pinned proof signing key "ed25519:<base64>", may be NULL */
} NfltrRelayConfig;

void              nfltr_relay_config_free   (NfltrRelayConfig *config);
/* NULL without error when the file does not exist. */
NfltrRelayConfig *nfltr_relay_config_load   (const char *config_dir, GError **error);
/* The parser behind _load, for any text (fuzzed: fuzz/fuzz-state.c); origin names the
 * source in error messages. */
NfltrRelayConfig *nfltr_relay_config_parse  (const char *data, gsize len, const char *origin,
                                             GError **error);
gboolean          nfltr_relay_config_save   (const char *config_dir, const NfltrRelayConfig *config,
                                             GError **error);
gboolean          nfltr_relay_config_delete (const char *config_dir, GError **error);

/* A tunnel as saved in tunnels.json. */
typedef struct {
  char     *id;
  char     *name;
  char     *kind;         /* a kind's id (service/kinds/) */
  char     *target;       /* as the kind describes it: HOST:PORT for http and tcp */
  GVariant *kind_options; /* a{sv}: CreateTunnel options only the kind reads, or NULL */
  gboolean  e2ee;
  char     *cert_file;    /* NULL: generated */
  char     *key_file;
  gboolean  enabled;      /* started at service start */
} NfltrTunnelConfig;

NfltrTunnelConfig *nfltr_tunnel_config_copy (const NfltrTunnelConfig *config);
void               nfltr_tunnel_config_free (NfltrTunnelConfig *config);
/* Array of NfltrTunnelConfig*; empty when the file does not exist. */
GPtrArray         *nfltr_tunnels_load       (const char *config_dir, GError **error);
/* The parser behind _load; entries with a missing or mistyped member are skipped with a
 * message naming the entry and the member, the others kept. */
GPtrArray         *nfltr_tunnels_parse      (const char *data, gsize len, const char *origin,
                                             GError **error);
gboolean           nfltr_tunnels_save       (const char *config_dir, GPtrArray *configs, GError **error);

/* 32 lower-case hex digits, created on first use (docs/protocol.md §4, agent-id). */
char              *nfltr_agent_id_load_or_create (const char *data_dir, GError **error);

/* Writes contents atomically with the given mode, creating dir 0700 if needed. */
gboolean           nfltr_write_file_atomic  (const char *path, const char *contents, gsize len,
                                             int mode, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrRelayConfig, nfltr_relay_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrTunnelConfig, nfltr_tunnel_config_free)

G_END_DECLS
