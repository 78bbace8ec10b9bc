/* nfltr-cidr.c — see nfltr-cidr.h. */
#define G_LOG_DOMAIN "nfltr"

#include "nfltr-cidr.h"

#include "nfltr-error.h"

#include <string.h>

typedef struct {
  guint8 bytes[16]; /* network order; IPv4 in the first 4 */
  guint  len;       /* 4 or 16 */
  guint  prefix;
} Range;

struct _NfltrCidrList {
  gatomicrefcount ref;
  GArray         *ranges; /* Range */
};

static void
mask_range (Range *r)
{
  for (guint bit = r->prefix; bit < r->len * 8; bit++)
    r->bytes[bit / 8] &= (guint8) ~(0x80u >> (bit % 8));
}

static gboolean
parse_one (const char *text, Range *out, GError **error)
{
  g_autofree char *copy = g_strdup (text);
  char *slash = strchr (copy, '/');
  g_autoptr (GInetAddress) address = NULL;
  guint64 prefix;

  if (slash != NULL)
    *slash = '\0';
  address = g_inet_address_new_from_string (copy);
  if (address == NULL)
    {
      g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an address range: write ADDRESS or ADDRESS/PREFIX, e.g. 192.0.2.0/24 or 2001:db8::/32",
                   text);
      return FALSE;
    }
  out->len = (guint) g_inet_address_get_native_size (address);
  memset (out->bytes, 0, sizeof out->bytes);
  memcpy (out->bytes, g_inet_address_to_bytes (address), out->len);
  out->prefix = out->len * 8;
  if (slash != NULL)
    {
      if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, out->len * 8, &prefix, NULL))
        {
          g_set_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                       "“%s”: the prefix length must be 0–%u for %s", text, out->len * 8,
                       out->len == 4 ? "IPv4" : "IPv6");
          return FALSE;
        }
      out->prefix = (guint) prefix;
    }
  mask_range (out);
  return TRUE;
}

NfltrCidrList *
nfltr_cidr_list_parse (const char * const *entries, GError **error)
{
  g_autoptr (GArray) ranges = g_array_new (FALSE, FALSE, sizeof (Range));
  NfltrCidrList *list;

  for (guint i = 0; entries != NULL && entries[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit_set (entries[i], ", \t", -1);

      for (guint j = 0; parts[j] != NULL; j++)
        {
          Range r;

          if (*parts[j] == '\0')
            continue;
          if (!parse_one (parts[j], &r, error))
            return NULL;
          g_array_append_val (ranges, r);
        }
    }
  if (ranges->len == 0)
    {
      g_set_error_literal (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT,
                           "no address range given");
      return NULL;
    }
  list = g_new0 (NfltrCidrList, 1);
  g_atomic_ref_count_init (&list->ref);
  list->ranges = g_steal_pointer (&ranges);
  return list;
}

NfltrCidrList *
nfltr_cidr_list_ref (NfltrCidrList *list)
{
  g_atomic_ref_count_inc (&list->ref);
  return list;
}

void
nfltr_cidr_list_unref (NfltrCidrList *list)
{
  if (list != NULL && g_atomic_ref_count_dec (&list->ref))
    {
      g_array_unref (list->ranges);
      g_free (list);
    }
}

static gboolean
range_contains (const Range *r, const guint8 *bytes, guint len)
{
  guint full = r->prefix / 8, rest = r->prefix % 8;

  if (len != r->len)
    return FALSE;
  if (memcmp (r->bytes, bytes, full) != 0)
    return FALSE;
  return rest == 0 || ((bytes[full] ^ r->bytes[full]) & (guint8) (0xff00u >> rest)) == 0;
}

static gboolean
contains_bytes (NfltrCidrList *list, const guint8 *bytes, guint len)
{
  static const guint8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  for (guint i = 0; i < list->ranges->len; i++)
    {
      const Range *r = &g_array_index (list->ranges, Range, i);

      if (range_contains (r, bytes, len))
        return TRUE;
      if (len == 16 && r->len == 4 && memcmp (bytes, v4_mapped, 12) == 0 && range_contains (r, bytes + 12, 4))
        return TRUE;
    }
  return FALSE;
}

gboolean
nfltr_cidr_list_contains (NfltrCidrList *list, GInetAddress *address)
{
  g_return_val_if_fail (list != NULL && address != NULL, FALSE);
  return contains_bytes (list, g_inet_address_to_bytes (address),
                         (guint) g_inet_address_get_native_size (address));
}

gboolean
nfltr_cidr_list_contains_text (NfltrCidrList *list, const char *text)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *colon;

  g_return_val_if_fail (list != NULL, FALSE);
  if (text == NULL)
    return FALSE;
  if (text[0] == '[')
    {
      const char *end = strchr (text, ']');

      if (end == NULL)
        return FALSE;
      host = g_strndup (text + 1, (gsize) (end - text - 1));
    }
  else if ((colon = strchr (text, ':')) != NULL && strchr (colon + 1, ':') == NULL)
    host = g_strndup (text, (gsize) (colon - text)); /* IPv4:PORT */
  else
    host = g_strdup (text); /* a bare IPv4 or IPv6 address */
  address = g_inet_address_new_from_string (host);
  return address != NULL && nfltr_cidr_list_contains (list, address);
}

char **
nfltr_cidr_list_to_strv (NfltrCidrList *list)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  char **out;

  for (guint i = 0; i < list->ranges->len; i++)
    {
      const Range *r = &g_array_index (list->ranges, Range, i);
      g_autoptr (GInetAddress) address = g_inet_address_new_from_bytes (r->bytes, r->len == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
      g_autofree char *text = g_inet_address_to_string (address);

      g_autofree char *entry = g_strdup_printf ("%s/%u", text, r->prefix);

      g_strv_builder_add (builder, entry);
    }
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}
