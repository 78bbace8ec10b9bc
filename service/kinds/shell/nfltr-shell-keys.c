/* nfltr-shell-keys.c — authorized_keys lines (sshd(8), "AUTHORIZED_KEYS FILE FORMAT") */
#define G_LOG_DOMAIN "nfltr-shell"

#include "nfltr-shell-keys.h"

#include <string.h>

/* The key types of sshd(8) "AUTHORIZED_KEYS FILE FORMAT" (OpenSSH 9.2). Certificates are not
 * listed: this server has no certificate authorities. */
static const char * const key_types[] = { "ssh-ed25519",
                                          "ssh-rsa",
                                          "ecdsa-sha2-nistp256",
                                          "ecdsa-sha2-nistp384",
                                          "ecdsa-sha2-nistp521",
                                          "sk-ssh-ed25519@openssh.com",
                                          "sk-ecdsa-sha2-nistp256@openssh.com",
                                          "ssh-dss",
                                          NULL };

gboolean
nfltr_shell_key_type_is_known (const char *word)
{
  return word != NULL && g_strv_contains (key_types, word);
}

void
nfltr_shell_authorized_key_clear (NfltrShellAuthorizedKey *key)
{
  g_clear_pointer (&key->type, g_free);
  g_clear_pointer (&key->base64, g_free);
  g_clear_pointer (&key->command, g_free);
  key->no_pty = FALSE;
}

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* The next whitespace-separated word of [*p, end), or NULL at the end. */
static char *
next_word (const char **p, const char *end)
{
  const char *start;

  while (*p < end && is_blank (**p))
    (*p)++;
  start = *p;
  while (*p < end && !is_blank (**p))
    (*p)++;
  return *p > start ? g_strndup (start, *p - start) : NULL;
}

static gboolean
is_base64 (const char *text)
{
  gsize len = strlen (text);

  if (len == 0 || len % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (text[i]) && text[i] != '+' && text[i] != '/' &&
        !(text[i] == '=' && i >= len - 2))
      return FALSE;
  return TRUE;
}

/* Options that change nothing here: forwarding of any sort is never offered, ~/.ssh/rc is
 * never run, and environment= is ignored as sshd ignores it by default
 * (PermitUserEnvironment no). */
static const char * const harmless_options[] = { "no-port-forwarding", "no-agent-forwarding",
                                                 "no-X11-forwarding",  "no-user-rc",
                                                 "port-forwarding",    "agent-forwarding",
                                                 "X11-forwarding",     "user-rc",
                                                 "no-touch-required",  "permitopen",
                                                 "permitlisten",       "tunnel",
                                                 "environment",        NULL };

/* Parses the options field [p, end) into key; FALSE with *reason for a line to refuse. */
static gboolean
parse_options (const char *p, const char *end, NfltrShellAuthorizedKey *key, char **reason)
{
  while (p < end)
    {
      const char *name_start = p;
      g_autofree char *name = NULL;
      g_autofree char *value = NULL;

      while (p < end && *p != ',' && *p != '=')
        p++;
      name = g_strndup (name_start, p - name_start);
      if (p < end && *p == '=')
        {
          GString *v = g_string_new (NULL);

          p++;
          if (p == end || *p != '"')
            {
              g_string_free (v, TRUE);
              *reason = g_strdup_printf ("option “%s” needs a quoted value", name);
              return FALSE;
            }
          p++;
          /* sshd: inside the quotes \" is a quote; any other backslash stays. */
          while (p < end && *p != '"')
            {
              if (*p == '\\' && p + 1 < end && p[1] == '"')
                p++;
              g_string_append_c (v, *p);
              p++;
            }
          if (p == end)
            {
              g_string_free (v, TRUE);
              *reason = g_strdup_printf ("option “%s” has an unterminated quote", name);
              return FALSE;
            }
          p++;
          value = g_string_free (v, FALSE);
        }
      if (p < end && *p != ',')
        {
          *reason = g_strdup_printf ("unexpected text after option “%s”", name);
          return FALSE;
        }
      if (p < end)
        p++;

      if (g_ascii_strcasecmp (name, "restrict") == 0 && value == NULL)
        key->no_pty = TRUE;
      else if (g_ascii_strcasecmp (name, "no-pty") == 0 && value == NULL)
        key->no_pty = TRUE;
      else if (g_ascii_strcasecmp (name, "pty") == 0 && value == NULL)
        key->no_pty = FALSE;
      else if (g_ascii_strcasecmp (name, "command") == 0 && value != NULL)
        {
          g_free (key->command);
          key->command = g_steal_pointer (&value);
        }
      else
        {
          gboolean harmless = FALSE;

          for (guint i = 0; harmless_options[i] != NULL; i++)
            harmless = harmless || g_ascii_strcasecmp (name, harmless_options[i]) == 0;
          if (!harmless)
            {
              /* from=, expiry-time=, principals=, cert-authority, verify-required, or a word
               * we do not know: a limit we cannot enforce must not become no limit. */
              *reason = g_strdup_printf ("option “%s” is not supported by nfltr shell", name);
              return FALSE;
            }
        }
    }
  return TRUE;
}

NfltrShellKeyLine
nfltr_shell_authorized_key_parse (const char              *line,
                                  gsize                    len,
                                  NfltrShellAuthorizedKey *key,
                                  char                   **reason)
{
  const char *p = line;
  const char *end = line + len;
  g_autofree char *first = NULL;
  g_autofree char *type = NULL;
  g_autofree char *base64 = NULL;

  memset (key, 0, sizeof *key);
  *reason = NULL;

  while (p < end && is_blank (*p))
    p++;
  if (p == end || *p == '#' || (*p == '\r' && p + 1 == end))
    return NFLTR_SHELL_KEY_LINE_EMPTY;
  if (len > NFLTR_SHELL_MAX_KEY_LINE || memchr (line, '\0', len) != NULL)
    {
      *reason = g_strdup ("line too long or not text");
      return NFLTR_SHELL_KEY_LINE_REFUSED;
    }
  if (end > line && end[-1] == '\r')
    end--;

  first = next_word (&p, end);
  if (!nfltr_shell_key_type_is_known (first))
    {
      /* The first field is options. Quoted values may hold blanks: find its end by
       * following the quotes. */
      const char *opt_start = p - strlen (first);
      const char *q = opt_start;
      gboolean quoted = FALSE;

      while (q < end && (quoted || !is_blank (*q)))
        {
          if (*q == '\\' && quoted && q + 1 < end && q[1] == '"')
            q++;
          else if (*q == '"')
            quoted = !quoted;
          q++;
        }
      if (quoted)
        {
          *reason = g_strdup ("unterminated quote in the options");
          return NFLTR_SHELL_KEY_LINE_REFUSED;
        }
      if (!parse_options (opt_start, q, key, reason))
        {
          nfltr_shell_authorized_key_clear (key);
          return NFLTR_SHELL_KEY_LINE_REFUSED;
        }
      p = q;
      type = next_word (&p, end);
    }
  else
    type = g_steal_pointer (&first);

  if (!nfltr_shell_key_type_is_known (type))
    {
      *reason = g_strdup_printf ("“%s” is not a key type", type != NULL ? type : "");
      nfltr_shell_authorized_key_clear (key);
      return NFLTR_SHELL_KEY_LINE_REFUSED;
    }
  base64 = next_word (&p, end);
  if (base64 == NULL || !is_base64 (base64))
    {
      *reason = g_strdup ("the key is not base64");
      nfltr_shell_authorized_key_clear (key);
      return NFLTR_SHELL_KEY_LINE_REFUSED;
    }
  /* Whatever follows is the comment. */
  key->type = g_steal_pointer (&type);
  key->base64 = g_steal_pointer (&base64);
  return NFLTR_SHELL_KEY_LINE_KEY;
}
