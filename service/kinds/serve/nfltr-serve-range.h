/* nfltr-serve-range.h — the Range request header (RFC 9110 §14.2), parsed for one
 * representation of known size. Outside input: fuzz/fuzz-web-range.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  NFLTR_RANGE_NONE,          /* no usable Range: send the whole representation (200) */
  NFLTR_RANGE_SATISFIABLE,   /* one range: *start and *length (206) */
  NFLTR_RANGE_UNSATISFIABLE, /* no range overlaps the representation (416) */
} NfltrRangeResult;

/* The policy is single-range (RFC 9110 §14.2 lets a server ignore Range): a header with
 * several ranges is answered as if it had none (the whole file, 200) unless they merge into
 * one. A header that does not parse is ignored, as the RFC says. */
NfltrRangeResult nfltr_serve_range_parse (const char *header,
                                          guint64     size,
                                          guint64    *start,
                                          guint64    *length);

G_END_DECLS
