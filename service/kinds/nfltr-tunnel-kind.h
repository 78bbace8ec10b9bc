/* nfltr-tunnel-kind.h — what a tunnel kind is, and the table of kinds (docs/service.md,
 * "Tunnel kinds").
 *
 * A kind decides everything that differs between "http", "tcp" and the kinds to come: which
 * CreateTunnel options it takes and what its target means, the ALPN list of its TLS server,
 * how a decrypted stream reaches its backend, whether the client's bytes are filtered on the
 * way, and what a client hears when the backend cannot be reached. The engine and the data
 * path only call these hooks; neither knows a kind by its name.
 *
 * The shape is power-profiles-daemon's drivers: an abstract class with vfuncs, one subclass
 * per kind in its own folder (service/kinds/<id>/), and one table of get_type functions in
 * nfltr-tunnel-kind.c. Each kind has one instance, created on first use and never freed;
 * instances hold no mutable state, so any thread may call them. */
#pragma once

#include <gio/gio.h>

#include "nfltr-stream-filter.h"

G_BEGIN_DECLS

#define NFLTR_TYPE_TUNNEL_KIND (nfltr_tunnel_kind_get_type ())
G_DECLARE_DERIVABLE_TYPE (NfltrTunnelKind, nfltr_tunnel_kind, NFLTR, TUNNEL_KIND, GObject)

/* One public connection, as the data path hands it to the kind's per-connection hooks. */
typedef struct {
  const char *client_addr; /* "IP:PORT" of the public client */
  const char *sni;         /* the host the client asked for (the tunnel's host without SNI) */
  int cancel_fd;           /* becomes readable when the tunnel stops: give up at once */
  guint timeout_ms;        /* how long reaching the backend may take */
  const char *alpn;        /* the protocol TLS negotiated (ALPN, RFC 7301), or NULL */
  /* The tunnel's counters, for a kind whose backend reaches the local server itself after
   * connect() returned (see reports_origin); valid until the connection ends. */
  struct _NfltrTunnelStats *stats;
} NfltrKindConn;

struct _NfltrTunnelKindClass {
  GObjectClass parent_class;

  /* Identity. id is the wire and D-Bus name ("http"), a DNS-label-like word; label is the
   * display name ("HTTP"), English: the service has no catalog, clients translate it if
   * theirs knows it; description is one short sentence. Required. */
  const char *(*get_id) (NfltrTunnelKind *self);
  const char *(*get_label) (NfltrTunnelKind *self);
  const char *(*get_description) (NfltrTunnelKind *self);

  /* Checks the target and the kind's own options (options is CreateTunnel's a{sv}, which
   * also holds the generic keys the kind ignores, or NULL when a tunnel is restored from
   * tunnels.json) and returns the tunnel's backend configuration: an a{sv} only this kind
   * reads, immutable, so a tunnel's worker threads share it. Errors are NFLTR_ERROR_
   * INVALID_ARGUMENT with a message for the user. Main thread. Required. */
  GVariant *(*parse) (NfltrTunnelKind *self, const char *target, GVariant *options, GError **error);
  /* The D-Bus Target and the target saved in tunnels.json: what parse() accepts back.
   * Required. */
  char *(*describe_target) (NfltrTunnelKind *self, GVariant *config);

  /* ALPN protocols the tunnel's TLS server offers, NULL-terminated; NULL offers none (the
   * client's choice is then not negotiated). Default: NULL. */
  const char * const *(*get_alpn) (NfltrTunnelKind *self);
  /* The ALPN list of one tunnel, for kinds where the user chooses it (tcp --alpn): a new
   * NULL-terminated array, or NULL to offer none. Worker thread. Default: get_alpn(). */
  char **(*get_tunnel_alpn) (NfltrTunnelKind *self, GVariant *config);

  /* When the tunnel starts (before it asks the relay for its name) and stops. Main thread.
   * A kind with an in-process backend (SoupServer, PTY, …) starts and stops it here.
   * Default: nothing. */
  gboolean (*start) (NfltrTunnelKind *self, GVariant *config, GError **error);
  void (*stop) (NfltrTunnelKind *self, GVariant *config);

  /* How a decrypted stream reaches its backend: returns a connected stream socket the data
   * path owns from then on (a TCP connection for http/tcp; one end of a socketpair whose
   * other end an in-process backend serves), or -1 and an error naming the cause.
   * Called on the connection's own worker thread, which may block here up to
   * conn->timeout_ms and must return early (G_IO_ERROR_CANCELLED) once conn->cancel_fd is
   * readable. Required. */
  int                 (*connect)              (NfltrTunnelKind      *self,
                                               GVariant             *config,
                                               const NfltrKindConn  *conn,
                                               GError              **error);

  /* A filter for the client→backend bytes of one connection (worker thread), or NULL to
   * pass them unchanged. Default: NULL. */
  NfltrStreamFilter  *(*new_filter)           (NfltrTunnelKind      *self,
                                               GVariant             *config,
                                               const NfltrKindConn  *conn);

  /* What the client is sent before the close when connect() failed (worker thread), or NULL
   * to close without a word. Default: NULL. */
  GBytes             *(*unreachable_response) (NfltrTunnelKind      *self,
                                               GVariant             *config,
                                               const GError         *error);

  /* TRUE when this connection's backend reaches the local server on its own (the HTTP/2
   * proxy) and reports each attempt with nfltr_tunnel_stats_origin_result (conn->stats);
   * the data path then does not count connect() as the local server answering. Worker
   * thread. Default: FALSE. */
  gboolean            (*reports_origin)       (NfltrTunnelKind      *self,
                                               GVariant             *config,
                                               const NfltrKindConn  *conn);

  /* The scheme of the tunnel's public URL: "https" for a website (the relay's answer as
   * is), "tls" for any other TLS service (tcp: clients connect with `nfltr connect` or any
   * TLS client that sends the name as SNI; issue 9 §3). Default: "https". */
  const char         *(*get_url_scheme)       (NfltrTunnelKind      *self);

  /* A visitor the tunnel's access control turned away (error says why): a connected stream
   * socket, as connect() returns, whose other end tells the client so in the kind's own
   * protocol (the http kind's HTTP/2 403), or -1 to send unreachable_response() for error
   * and close. Worker thread, must not block. Default: -1. */
  int                 (*refuse)               (NfltrTunnelKind      *self,
                                               GVariant             *config,
                                               const NfltrKindConn  *conn,
                                               const GError         *error);

  /* Issue 11: the tunnel's certificate, at start (after start()) and whenever it changes
   * (an ACME renewal): fingerprint "sha256:…" of cert_pem's leaf, as D-Bus and the CLI show
   * it. Main thread. Default: kinds that serve pages through the web layer
   * (service/kinds/web/) show it on their badge; others ignore it. */
  void                (*certificate_changed)  (NfltrTunnelKind      *self,
                                               GVariant             *config,
                                               const char           *cert_pem,
                                               const char           *fingerprint);

  gpointer padding[3];
};

const char         *nfltr_tunnel_kind_get_id               (NfltrTunnelKind      *self);
const char         *nfltr_tunnel_kind_get_label            (NfltrTunnelKind      *self);
const char         *nfltr_tunnel_kind_get_description      (NfltrTunnelKind      *self);
GVariant           *nfltr_tunnel_kind_parse                (NfltrTunnelKind      *self,
                                                            const char           *target,
                                                            GVariant             *options,
                                                            GError              **error);
char               *nfltr_tunnel_kind_describe_target      (NfltrTunnelKind      *self,
                                                            GVariant             *config);
const char * const *nfltr_tunnel_kind_get_alpn             (NfltrTunnelKind      *self);
/* What the data path offers in one tunnel's TLS handshake (free with g_strfreev()). */
char              **nfltr_tunnel_kind_get_tunnel_alpn      (NfltrTunnelKind      *self,
                                                            GVariant             *config);
gboolean            nfltr_tunnel_kind_start                (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            GError              **error);
void                nfltr_tunnel_kind_stop                 (NfltrTunnelKind      *self,
                                                            GVariant             *config);
/* The returned socket is non-blocking and close-on-exec, whatever the kind did. */
int                 nfltr_tunnel_kind_connect              (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            const NfltrKindConn  *conn,
                                                            GError              **error);
NfltrStreamFilter  *nfltr_tunnel_kind_new_filter           (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            const NfltrKindConn  *conn);
gboolean            nfltr_tunnel_kind_reports_origin       (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            const NfltrKindConn  *conn);
const char         *nfltr_tunnel_kind_get_url_scheme       (NfltrTunnelKind      *self);
/* The relay's URL ("https://HOST:PORT") in the kind's scheme (a new string). */
char               *nfltr_tunnel_kind_public_url           (NfltrTunnelKind      *self,
                                                            const char           *relay_url);
/* The returned socket is non-blocking and close-on-exec, whatever the kind did; -1: none. */
int                 nfltr_tunnel_kind_refuse               (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            const NfltrKindConn  *conn,
                                                            const GError         *error);
GBytes             *nfltr_tunnel_kind_unreachable_response (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            const GError         *error);
/* Issue 11: tells the kind the tunnel's current certificate (see certificate_changed). */
void                nfltr_tunnel_kind_certificate_changed  (NfltrTunnelKind      *self,
                                                            GVariant             *config,
                                                            const char           *cert_pem,
                                                            const char           *fingerprint);

/* ---- the registry ---- */

/* The kind with this id, or NULL. Transfer none: kinds live as long as the process. */
NfltrTunnelKind    *nfltr_tunnel_kind_lookup               (const char           *id);
/* Every kind, in table order. Transfer none; *n_kinds (optional) gets the count. */
NfltrTunnelKind   **nfltr_tunnel_kind_list                 (guint                *n_kinds);
/* a(sss) of id, label, description: the Manager's Kinds property. */
GVariant           *nfltr_tunnel_kind_list_to_variant      (void);
/* An error for an id that is not in the table, listing those that are:
 * "kind must be “http” or “tcp”, not “udp”". */
void                nfltr_tunnel_kind_set_unknown_error    (GError              **error,
                                                            const char           *id);

/* ---- for kinds whose backend is a TCP server (http, tcp) ---- */

/* target is "PORT" or "HOST:PORT" (host defaults to localhost); config {"host": s, "port": q}. */
GVariant           *nfltr_kind_host_port_parse             (const char           *target,
                                                            GError              **error);
/* "HOST:PORT", "[v6]:PORT" */
char               *nfltr_kind_host_port_describe          (GVariant             *config);
/* Connects to the config's host and port within conn->timeout_ms (*.localhost is loopback). */
int                 nfltr_kind_host_port_connect           (GVariant             *config,
                                                            const NfltrKindConn  *conn,
                                                            GError              **error);

G_END_DECLS
