/* nfltr-shell-keys.h — the lines of an authorized_keys file (sshd(8), "AUTHORIZED_KEYS FILE
 * FORMAT"), parsed without libssh so the parser can be fuzzed on its own.
 *
 * A line is "[options] keytype base64-key [comment]". The options this server can honour are
 * kept; a line whose options would grant less than we could enforce (from=, expiry-time=,
 * principals=, cert-authority, verify-required, anything unknown) is refused as a whole, like
 * sshd refuses a line with bad options: a key must never get more than its line says. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* OpenSSH's SSH_MAX_PUBKEY_BYTES is 16 KiB; a line longer than that is not a key. */
#define NFLTR_SHELL_MAX_KEY_LINE  16384
/* An authorized_keys file larger than this is refused rather than read (a mistake, or an
 * attempt to make every login slow). */
#define NFLTR_SHELL_MAX_KEYS_FILE (1024 * 1024)

typedef struct {
  char     *type;     /* "ssh-ed25519", "ecdsa-sha2-nistp256", … */
  char     *base64;   /* the key blob as written */
  char     *command;  /* command="…": the only command this key may run, or NULL */
  gboolean  no_pty;   /* no-pty, or restrict without a later pty */
} NfltrShellAuthorizedKey;

typedef enum {
  NFLTR_SHELL_KEY_LINE_KEY,     /* *key is filled */
  NFLTR_SHELL_KEY_LINE_EMPTY,   /* blank line or comment */
  NFLTR_SHELL_KEY_LINE_REFUSED, /* *reason says why the line gives no access */
} NfltrShellKeyLine;

/* True for the public key types OpenSSH 9 writes into authorized_keys. */
gboolean          nfltr_shell_key_type_is_known      (const char              *word);

/* line: one line without its newline (len bytes; NUL bytes make it refused). */
NfltrShellKeyLine nfltr_shell_authorized_key_parse   (const char              *line,
                                                      gsize                    len,
                                                      NfltrShellAuthorizedKey *key,
                                                      char                   **reason);
void              nfltr_shell_authorized_key_clear   (NfltrShellAuthorizedKey *key);

G_END_DECLS
