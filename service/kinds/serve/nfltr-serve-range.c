/* nfltr-serve-range.c — "bytes=…" (RFC 9110 §14.1.1, §14.2) */
#define G_LOG_DOMAIN "nfltr-serve"

#include "nfltr-serve-range.h"

#include <string.h>

/* More ranges than anyone resumes with is an attempt at making us work (RFC 9110 §14.2
 * allows ignoring such a request). */
#define MAX_RANGES 16

static gboolean
parse_number (const char **p, guint64 *out)
{
  guint64 v = 0;
  const char *s = *p;

  if (!g_ascii_isdigit (*s))
    return FALSE;
  for (; g_ascii_isdigit (*s); s++)
    {
      if (v > (G_MAXUINT64 - 9) / 10)
        return FALSE;
      v = v * 10 + (guint64) (*s - '0');
    }
  *p = s;
  *out = v;
  return TRUE;
}

static void
skip_ows (const char **p)
{
  while (**p == ' ' || **p == '\t')
    (*p)++;
}

NfltrRangeResult
nfltr_serve_range_parse (const char *header, guint64 size, guint64 *start, guint64 *length)
{
  const char *p = header;
  guint64 first = 0, last = 0; /* the union of the satisfiable ranges, inclusive */
  guint n_satisfiable = 0, n = 0;
  gboolean disjoint = FALSE;

  if (header == NULL)
    return NFLTR_RANGE_NONE;
  skip_ows (&p);
  /* §14.1.1: the unit is case-insensitive. */
  if (g_ascii_strncasecmp (p, "bytes=", 6) != 0)
    return NFLTR_RANGE_NONE;
  p += 6;

  for (;;)
    {
      guint64 a, b;
      gboolean has_first;

      skip_ows (&p);
      if (++n > MAX_RANGES)
        return NFLTR_RANGE_NONE;
      has_first = g_ascii_isdigit (*p);
      if (has_first)
        {
          if (!parse_number (&p, &a) || *p != '-')
            return NFLTR_RANGE_NONE;
          p++;
          if (g_ascii_isdigit (*p))
            {
              if (!parse_number (&p, &b) || b < a)
                return NFLTR_RANGE_NONE;
            }
          else
            b = G_MAXUINT64;
        }
      else
        {
          guint64 suffix;

          /* suffix-range: the last N bytes */
          if (*p != '-')
            return NFLTR_RANGE_NONE;
          p++;
          if (!parse_number (&p, &suffix))
            return NFLTR_RANGE_NONE;
          if (suffix == 0)
            a = G_MAXUINT64; /* unsatisfiable: §14.1.3 */
          else
            a = suffix >= size ? 0 : size - suffix;
          b = G_MAXUINT64;
        }
      /* §14.1.3: satisfiable when first-pos < size (or a non-zero suffix of a non-empty one). */
      if (a < size)
        {
          if (b >= size)
            b = size - 1;
          if (n_satisfiable == 0)
            {
              first = a;
              last = b;
            }
          else if (a <= last + 1 && b + 1 >= first)
            {
              first = MIN (first, a);
              last = MAX (last, b);
            }
          else
            disjoint = TRUE;
          n_satisfiable++;
        }
      skip_ows (&p);
      if (*p == '\0')
        break;
      if (*p != ',')
        return NFLTR_RANGE_NONE;
      p++;
    }

  if (n_satisfiable == 0)
    return NFLTR_RANGE_UNSATISFIABLE;
  if (disjoint)
    return NFLTR_RANGE_NONE;
  *start = first;
  *length = last - first + 1;
  return NFLTR_RANGE_SATISFIABLE;
}
