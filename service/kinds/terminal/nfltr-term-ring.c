/* nfltr-term-ring.c — a bounded byte ring addressed by absolute stream offsets */
#define G_LOG_DOMAIN "nfltr-terminal"

#include "nfltr-term-ring.h"

#include <string.h>

struct _NfltrTermRing {
  guint8  *data;
  gsize    capacity;
  guint64  end;   /* absolute offset after the newest byte */
  gsize    len;   /* bytes held, ≤ capacity */
};

NfltrTermRing *
nfltr_term_ring_new (gsize capacity)
{
  NfltrTermRing *ring = g_new0 (NfltrTermRing, 1);

  g_return_val_if_fail (capacity > 0, NULL);
  ring->data = g_malloc (capacity);
  ring->capacity = capacity;
  return ring;
}

void
nfltr_term_ring_free (NfltrTermRing *ring)
{
  if (ring == NULL)
    return;
  g_free (ring->data);
  g_free (ring);
}

void
nfltr_term_ring_append (NfltrTermRing *ring, const guint8 *data, gsize len)
{
  /* Only the newest capacity bytes of a big write can survive it. */
  if (len > ring->capacity)
    {
      ring->end += len - ring->capacity;
      data += len - ring->capacity;
      len = ring->capacity;
    }
  while (len > 0)
    {
      gsize at = ring->end % ring->capacity;
      gsize n = MIN (len, ring->capacity - at);

      memcpy (ring->data + at, data, n);
      ring->end += n;
      ring->len = MIN (ring->len + n, ring->capacity);
      data += n;
      len -= n;
    }
}

guint64
nfltr_term_ring_get_start (NfltrTermRing *ring)
{
  return ring->end - ring->len;
}

guint64
nfltr_term_ring_get_end (NfltrTermRing *ring)
{
  return ring->end;
}

GBytes *
nfltr_term_ring_read (NfltrTermRing *ring, guint64 offset, gsize max, guint64 *from)
{
  guint64 start = nfltr_term_ring_get_start (ring);
  guint8 *out;
  gsize n, at, first;

  if (offset < start)
    offset = start;
  if (from != NULL)
    *from = offset;
  if (offset >= ring->end || max == 0)
    return NULL;
  n = MIN ((guint64) max, ring->end - offset);
  at = offset % ring->capacity;
  first = MIN (n, ring->capacity - at);
  out = g_malloc (n);
  memcpy (out, ring->data + at, first);
  memcpy (out + first, ring->data, n - first);
  return g_bytes_new_take (out, n);
}
