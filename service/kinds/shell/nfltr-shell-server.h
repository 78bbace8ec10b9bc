/* nfltr-shell-server.h — the SSH server of one "shell" tunnel (libssh).
 *
 * Each decrypted connection is one end of a socketpair; the server runs libssh on the other
 * end, one thread per SSH connection (an ssh_event loop), under three limits: connections
 * that have not authenticated yet (the oldest is dropped to make room, so a flood of idle
 * connections cannot lock the owner out), connections in all, and failed authentication
 * attempts per connection. Authentication is by public key only, against an authorized_keys
 * file read at every attempt. A session runs the user's login shell on a PTY, a command
 * (exec, with its exit status or signal), or the "sftp" subsystem (OpenSSH's sftp-server,
 * which is what scp and sftp speak). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* OpenSSH's defaults: LoginGraceTime 120 s is generous for a public name; MaxAuthTries 6;
 * MaxStartups 10. */
#define NFLTR_SHELL_AUTH_TIMEOUT_S       30
#define NFLTR_SHELL_MAX_AUTH_TRIES       6
#define NFLTR_SHELL_MAX_UNAUTHENTICATED  10
#define NFLTR_SHELL_MAX_CONNECTIONS      32
#define NFLTR_SHELL_MAX_CHANNELS         10

typedef struct _NfltrShellServer NfltrShellServer;

typedef struct {
  const char *authorized_keys;    /* the file keys are checked against */
  guint       auth_timeout_s;     /* 0: NFLTR_SHELL_AUTH_TIMEOUT_S */
  guint       max_unauthenticated;
  guint       max_connections;
} NfltrShellServerConfig;

NfltrShellServer *nfltr_shell_server_new          (const NfltrShellServerConfig *config);
/* Takes fd (the server's end of a socketpair) in every case. host_key: the private key's
 * path; client_addr: "IP:PORT" of the public client, for logs and SSH_CONNECTION. FALSE
 * (NFLTR_ERROR_LIMIT) when the server is full or stopping. Any thread. */
gboolean          nfltr_shell_server_accept       (NfltrShellServer             *server,
                                                   int                           fd,
                                                   const char                   *host_key,
                                                   const char                   *client_addr,
                                                   GError                      **error);
/* Connections being served (for tests). */
guint             nfltr_shell_server_get_n_connections (NfltrShellServer       *server);
/* Ends every connection (their processes get SIGHUP, then SIGKILL), joins their threads and
 * frees the server. */
void              nfltr_shell_server_free         (NfltrShellServer             *server);

/* ---- host keys: one per tunnel name, kept in $XDG_DATA_HOME/nfltr/ssh-host-keys/ ---- */

/* The private key's path for a tunnel name (a DNS label; anything else is refused). */
char             *nfltr_shell_host_key_path       (const char                   *name,
                                                   GError                      **error);
/* Generates the Ed25519 key of `name` once (0600, atomically; its .pub beside it) and gives
 * its path and the OpenSSH fingerprint ("SHA256:…"). Thread-safe. */
gboolean          nfltr_shell_host_key_ensure     (const char                   *name,
                                                   char                        **path,
                                                   char                        **fingerprint,
                                                   GError                      **error);

G_END_DECLS
