/* nfltr-p2p-transfer-private.h — one transfer, shared by the files that run it:
 * nfltr-p2p-transfer.c (the object, its state and progress), -run.c (offer, claim, the
 * relay's frames, the pump, the end of a run), -pairing.c (the handshake and the direct
 * path), -streams.c (the session's streams and control messages), -send.c and -receive.c
 * (the two sides of the files), -files.c (the files on disk), -chat.c, -audit.c (§9.6) and
 * -dbus.c (the Transfer interface's methods). */
#pragma once

#include "nfltr-p2p-transfer.h"
#include "nfltr-p2p-session.h"
#include "nfltr-p2p-code.h"
#include "nfltr-p2p-error.h"
#include "nfltr-p2p-chat.h"
#include "nfltr-p2p-direct.h"
#include "nfltr-error.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

G_BEGIN_DECLS

#define READ_CHUNK        (64 * 1024)
#define FEED_AHEAD        (4 * NFLTR_P2P_MUX_CHUNK)
/* The sender reads ahead on a worker, one read of this much at a time, while less than
 * READ_AHEAD waits to go into the mux. */
#define READ_BATCH        (256 * 1024)
#define READ_AHEAD        (512 * 1024)
#define RETRY_INTERVAL_S  2
#define PROGRESS_MS       250
#define AUDIT_DUMP_MAGIC  0xA0 /* a FORWARD body that is not a pairing message (§9.8) */
#define AUDIT_WINDOW_MAGIC 0xA1 /* the audit's second round (§9.8) */
/* §9.8: at most this many checkpoints per direction in a summary (128 KiB of links), and a
 * window of the stride that holds the first difference plus this many links, at most
 * AUDIT_WINDOW_MAX (two directions of 76-byte links stay under the frame's 1 MiB). */
#define AUDIT_CHECKPOINTS 4096
#define AUDIT_LOOKAHEAD   2048
#define AUDIT_WINDOW_MAX  6144
#define STATE_SUFFIX      ".nfltr"
#define AUDIT_GRACE_MS    300
/* After the pairing, how long the sender waits for ICE before it takes the relayed path. */
#define ICE_WAIT_MS       4000
#define DIRECT_BATCH      (256 * 1024)
#define FILE_WINDOW       (4 * 1024 * 1024)
#define FIRST_CLAIM_PATIENCE_US (10 * G_USEC_PER_SEC)

typedef enum {
  ST_PREPARING,
  ST_WAITING,
  ST_PAIRING,
  ST_OFFERED,
  ST_TRANSFERRING,
  ST_CONNECTED,
  ST_INTERRUPTED,
  ST_DONE,
  ST_FAILED,
  ST_DECLINED,
  ST_CANCELLED,
} TransferState;

typedef enum {
  PATH_NONE,     /* not chosen yet: nothing is sent */
  PATH_DIRECT,   /* ICE (§9.9) */
  PATH_RELAYED,  /* P2P_RELAY through the relay (§9.7) */
} TransferPath;

typedef struct {
  char *name;   /* relative, '/'-separated */
  char *source; /* sender: absolute path */
  guint64 size;
  char *sha256; /* hex */
  /* receiver */
  guint64 offset;         /* what this side already holds (resume) */
  char *prefix;           /* hex SHA-256 of those bytes */
  struct sha256_ctx hash; /* running hash of the .part */
  GOutputStream *out;
  guint64 received; /* bytes of the .part, offset included */
  gboolean done;
  char *saved_as;
} FileEntry;

/* A file's prefix to hash off the main thread (nfltr-p2p-transfer-files.c). */
typedef struct {
  guint index;      /* the file entry */
  char *path;       /* the .part (receiver) or the source (sender) */
  char *state;      /* receiver: the .part's state file */
  char *sha256;     /* receiver: the content the state file must name */
  guint64 size;     /* receiver: the whole file's size */
  guint64 length;   /* how much to hash (sender) or what the .part holds (receiver, result) */
  char *expected;   /* sender: the receiver's hash of that prefix */
  struct sha256_ctx hash; /* result: the running hash after length bytes */
  char *prefix;     /* result: its hex digest, NULL when the file is shorter or gone */
} PrefixJob;

typedef struct {
  NfltrP2pStreamKind kind;
  NfltrP2pFramer *framer;
  gint file; /* FILE: the entry, -1 until the header came */
  /* FILE, receiver: bytes that wait for the writer (one write in flight per stream, on a
   * worker thread; the mux window is credited only once they are on disk) */
  GByteArray *pending;
  gboolean writing;
  gboolean fin; /* the sender finished the stream: close, check and rename after the writes */
} StreamIn;

struct _NfltrP2pTransfer {
  NfltrDbusTransferSkeleton parent_instance;

  NfltrP2pService *service;
  char *id;
  gboolean sender;
  gboolean chat_only;
  char *code;
  char *offer_id;
  char *directory;
  char **paths;  /* sender: as given, for the state file that survives a restart */
  gboolean yes;
  TransferState state;
  GPtrArray *files; /* FileEntry */
  guint64 bytes_done;
  guint64 bytes_total;
  GCancellable *cancellable;

  /* the run */
  gboolean claiming; /* a CLAIM waits for its answer */
  GPtrArray *early_signal; /* pairing messages that came before the CLAIM's answer (GBytes) */
  gboolean claimed; /* the relay holds our OFFER (sender) or CLAIM (receiver) */
  NfltrP2pHandshake *hs;
  NfltrP2pSession *session;
  NfltrP2pKeys keys;
  GHashTable *streams; /* stream id → StreamIn */
  guint32 control;     /* our control stream */
  guint32 chat;        /* our chat stream, 0 until the first message */
  guint32 call;        /* issue 14: our CALL stream (service/p2p/call/), 0 until the first message */
  guint32 next_chat_id;
  gboolean accepted; /* the receiver said yes in this run */
  guint run_serial;   /* a new one per run: work a worker finishes late finds its run over */
  gboolean fresh;     /* receiver: the manifest of this run is the first one */
  gboolean manifest_seen;
  GByteArray *wire;

  /* the sender's file feed */
  guint current; /* the entry being sent */
  guint32 file_stream;
  GInputStream *in;
  guint64 to_send;    /* not yet handed to the mux */
  guint64 to_read;    /* not yet asked of the reader */
  GByteArray *ready;  /* read ahead by the worker, not yet handed to the mux */
  gsize ready_off;
  gboolean reading;   /* one read in flight, on a worker thread */
  guint read_serial;  /* a new one per file: a late read of an earlier one is dropped */

  guint retry_id;
  guint progress_id;
  guint dump_id;
  /* the path of the run */
  TransferPath path;
  NfltrP2pDirect *direct;
  GByteArray *direct_out;  /* records waiting for pseudo-TCP's window */
  gsize direct_off;
  GByteArray *early;       /* direct bytes that came before our session existed */
  guint ice_wait_id;
  gint64 started;
  gint64 last_t;
  guint64 last_bytes;
  double speed;

  /* audit (§9.6): the last run's chains as each side saw them */
  NfltrP2pAuditChain *peer_chains[2];
  NfltrP2pAuditChain *my_chains[2];
  gboolean dump_sent;
  gboolean window_sent;
  gboolean audit_answerer; /* it answered the peer's summary: it ends the run after the windows */
  guint64 peer_start[2];   /* where the peer's window starts in its chain */
  guint64 peer_count[2];   /* the peer's whole chain */
  guint8 peer_base[2][32]; /* the peer's link before its window */
  GPtrArray *findings;
};

/* nfltr-p2p-transfer.c */
const char *_nfltr_p2p_transfer_state_name (TransferState s);
char *_nfltr_p2p_transfer_hex (const guint8 *data, gsize len);
gboolean _nfltr_p2p_transfer_state_is_final (TransferState s);
const char *_nfltr_p2p_transfer_path_name (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_emit_progress (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_set_state (NfltrP2pTransfer *self, TransferState state);
void _nfltr_p2p_transfer_set_error (NfltrP2pTransfer *self, const char *message);
void _nfltr_p2p_transfer_update_files_property (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_fail (NfltrP2pTransfer *self, const char *message);

/* nfltr-p2p-transfer-run.c */
void _nfltr_p2p_transfer_send_signal (NfltrP2pTransfer *self, NfltrP2pOp op, const guint8 *data, gsize len);
void _nfltr_p2p_transfer_send_message (NfltrP2pTransfer *self, GBytes *message);
void _nfltr_p2p_transfer_teardown_run (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_interrupted (NfltrP2pTransfer *self, const char *why);
void _nfltr_p2p_transfer_pump (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_offer (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_claim (NfltrP2pTransfer *self);

/* nfltr-p2p-transfer-pairing.c */
void _nfltr_p2p_transfer_end_run (NfltrP2pTransfer *self, NfltrP2pEnd how);
void _nfltr_p2p_transfer_pairing_failed (NfltrP2pTransfer *self, const GError *error);
void _nfltr_p2p_transfer_choose_path (NfltrP2pTransfer *self, TransferPath path);
void _nfltr_p2p_transfer_take_pairing_message (NfltrP2pTransfer *self, const guint8 *data, gsize len);
void _nfltr_p2p_transfer_start_pairing (NfltrP2pTransfer *self);

/* nfltr-p2p-transfer-streams.c */
void _nfltr_p2p_transfer_send_control (NfltrP2pTransfer *self, JsonObject *object);
void _nfltr_p2p_transfer_all_done (NfltrP2pTransfer *self);
gboolean _nfltr_p2p_transfer_every_file_done (NfltrP2pTransfer *self);
extern const NfltrP2pMuxCallbacks _nfltr_p2p_transfer_mux_callbacks;

/* nfltr-p2p-transfer-send.c */
void _nfltr_p2p_transfer_send_manifest (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_feed (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_take_accept (NfltrP2pTransfer *self, JsonObject *m);

/* nfltr-p2p-transfer-receive.c */
void _nfltr_p2p_transfer_send_accept (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_take_manifest (NfltrP2pTransfer *self, JsonObject *m);
gboolean _nfltr_p2p_transfer_begin_file (NfltrP2pTransfer *self, StreamIn *s, JsonObject *h, GError **error);
void _nfltr_p2p_transfer_file_fin (NfltrP2pTransfer *self, guint32 stream, StreamIn *s);
void _nfltr_p2p_transfer_file_bytes (NfltrP2pTransfer *self, guint32 stream, StreamIn *s, const guint8 *data, gsize len,
                                     GError **error);

/* nfltr-p2p-transfer-files.c */
char *_nfltr_p2p_transfer_part_path (NfltrP2pTransfer *self, FileEntry *f);
void _nfltr_p2p_transfer_prefix_job_free (PrefixJob *job);
PrefixJob *_nfltr_p2p_transfer_prefix_job_for_part (NfltrP2pTransfer *self, guint index);
PrefixJob *_nfltr_p2p_transfer_prefix_job_for_source (NfltrP2pTransfer *self, guint index, guint64 length,
                                                      const char *expected);
void _nfltr_p2p_transfer_hash_prefixes_async (NfltrP2pTransfer *self, GPtrArray *jobs, GAsyncReadyCallback callback);
GPtrArray *_nfltr_p2p_transfer_hash_prefixes_finish (NfltrP2pTransfer *self, GAsyncResult *result);
char *_nfltr_p2p_transfer_free_name (const char *path);
void _nfltr_p2p_transfer_hash_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable);
void _nfltr_p2p_transfer_hashed_cb (GObject *source, GAsyncResult *result, gpointer user_data);
gboolean _nfltr_p2p_transfer_collect (GPtrArray *files, const char *path, const char *name, GError **error);

/* nfltr-p2p-transfer-chat.c */
void _nfltr_p2p_transfer_send_chat (NfltrP2pTransfer *self, JsonObject *object);
void _nfltr_p2p_transfer_take_chat (NfltrP2pTransfer *self, JsonObject *m);

/* nfltr-p2p-transfer-audit.c */
void _nfltr_p2p_transfer_send_audit_dump (NfltrP2pTransfer *self);
void _nfltr_p2p_transfer_keep_my_chains (NfltrP2pTransfer *self);
gboolean _nfltr_p2p_transfer_take_audit_dump (NfltrP2pTransfer *self, const guint8 *data, gsize len);
void _nfltr_p2p_transfer_session_broken (NfltrP2pTransfer *self, const GError *error);

/* nfltr-p2p-transfer-dbus.c */
void _nfltr_p2p_transfer_iface_init (NfltrDbusTransferIface *iface);

G_END_DECLS
