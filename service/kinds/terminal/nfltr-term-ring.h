/* nfltr-term-ring.h — a bounded byte ring addressed by absolute stream offsets.
 *
 * The terminal's output is one endless byte stream; the ring keeps its newest `capacity`
 * bytes. Readers (the pages attached to a session) remember the absolute offset they have
 * reached, so a page that reattaches or falls behind is served from wherever the ring still
 * reaches, and learns how much it missed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _NfltrTermRing NfltrTermRing;

NfltrTermRing *nfltr_term_ring_new       (gsize          capacity);
void           nfltr_term_ring_free      (NfltrTermRing *ring);
void           nfltr_term_ring_append    (NfltrTermRing *ring,
                                          const guint8  *data,
                                          gsize          len);
/* The offset of the oldest byte still held, and the offset after the newest. */
guint64        nfltr_term_ring_get_start (NfltrTermRing *ring);
guint64        nfltr_term_ring_get_end   (NfltrTermRing *ring);
/* Up to max bytes from offset (raised to the ring's start if older), or NULL when nothing
 * is held at or after offset. *from gets the offset the bytes really start at. */
GBytes        *nfltr_term_ring_read      (NfltrTermRing *ring,
                                          guint64        offset,
                                          gsize          max,
                                          guint64       *from);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NfltrTermRing, nfltr_term_ring_free)

G_END_DECLS
