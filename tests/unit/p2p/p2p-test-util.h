/* p2p-test-util.h — hex helpers for the P2P known-answer tests. */
#pragma once

#include <glib.h>
#include <string.h>

/* Decodes HEX (whitespace ignored) into a new buffer; *LEN gets its size. */
static inline guint8 *
p2p_test_unhex (const char *hex,
                gsize      *len)
{
  GByteArray *out = g_byte_array_new ();
  int hi = -1;

  for (const char *p = hex; *p != '\0'; p++)
    {
      int v;

      if (g_ascii_isspace (*p))
        continue;
      v = g_ascii_xdigit_value (*p);
      g_assert_cmpint (v, >=, 0);
      if (hi < 0)
        hi = v;
      else
        {
          guint8 b = (guint8) (hi << 4 | v);

          g_byte_array_append (out, &b, 1);
          hi = -1;
        }
    }
  g_assert_cmpint (hi, ==, -1);
  if (len != NULL)
    *len = out->len;
  return g_byte_array_free (out, FALSE);
}

static inline char *
p2p_test_hex (const guint8 *data,
              gsize         len)
{
  GString *s = g_string_sized_new (len * 2);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

#define p2p_assert_hex(data, len, expected)                  \
  G_STMT_START                                               \
  {                                                          \
    g_autofree char *hex_ = p2p_test_hex ((data), (len));    \
    g_autofree char *want_ = g_strdelimit (g_strdup (expected), " \n", ' '); \
    GString *w_ = g_string_new (NULL);                       \
    for (const char *c_ = want_; *c_; c_++)                  \
      if (*c_ != ' ')                                        \
        g_string_append_c (w_, *c_);                         \
    g_assert_cmpstr (hex_, ==, w_->str);                     \
    g_string_free (w_, TRUE);                                \
  }                                                          \
  G_STMT_END
