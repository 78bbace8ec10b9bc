/* cli-output.c — messages, byte units, tunnel lines, JSON lines */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-output.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <unistd.h>

int
cli_fail (int status, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  fflush (stdout);
  /* fprintf, not g_printerr: the bytes are UTF-8 whatever the locale, as documented. */
  fprintf (stderr, "nfltr: %s\n", message);
  return status;
}

char *
cli_error_message (const GError *error)
{
  g_autoptr(GError) copy = NULL;

  if (error == NULL)
    return g_strdup (_ ("unknown error"));
  copy = g_error_copy (error);
  if (g_dbus_error_is_remote_error (copy))
    g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

void
cli_print_error (const GError *error)
{
  g_autofree char *message = cli_error_message (error);

  cli_fail (CLI_EXIT_FAILURE, "%s", message);
}

char *
cli_format_bytes (guint64 bytes)
{
  static const char * const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  double value = (double) bytes;
  guint unit = 0;
  char number[G_ASCII_DTOSTR_BUF_SIZE];

  if (bytes < 1024)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " B", bytes);

  value /= 1024.0;
  while (value >= 1023.95 && unit + 1 < G_N_ELEMENTS (units))
    {
      value /= 1024.0;
      unit++;
    }
  /* g_ascii_formatd: '.' as the separator whatever LC_NUMERIC says, so tests can match. */
  g_ascii_formatd (number, sizeof number, "%.1f", value);
  return g_strdup_printf ("%s %s", number, units[unit]);
}

char *
cli_format_stats (guint active, guint64 total, guint64 bytes_in, guint64 bytes_out)
{
  g_autofree char *in = cli_format_bytes (bytes_in);
  g_autofree char *out = cli_format_bytes (bytes_out);
  /* Formatted apart: a G_GUINT64_FORMAT inside a message would not reach the catalog. */
  g_autofree char *all = g_strdup_printf ("%" G_GUINT64_FORMAT, total);

  /* TRANSLATORS: the live counters of a tunnel: connections open now, connections in all,
   * bytes from the public (“1.5 KiB”), bytes to it. */
  return g_strdup_printf (_ ("Connections: %u open, %s total   In: %s   Out: %s"), active, all, in,
                          out);
}

const char *
cli_mode_description (const char *mode)
{
  if (g_strcmp0 (mode, "verified") == 0)
    return _ ("verified end-to-end");
  if (g_strcmp0 (mode, "inspectable") == 0)
    /* TRANSLATORS: upper case on purpose: the tunnel is not end-to-end encrypted. */
    return _ ("INSPECTABLE — the relay can read this traffic (--e2ee=false)");
  return mode ? mode : "";
}

gboolean
cli_stdout_is_tty (void)
{
  return isatty (STDOUT_FILENO) == 1;
}

gboolean
cli_use_color (void)
{
  const char *term = g_getenv ("TERM");

  /* https://no-color.org */
  if (g_getenv ("NO_COLOR") != NULL)
    return FALSE;
  return cli_stdout_is_tty () && g_strcmp0 (term, "dumb") != 0;
}

static char *
node_to_line (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, FALSE);
  return json_generator_to_data (generator, NULL);
}

void
cli_print_flushed (const char *text)
{
  /* One object per line, flushed: tests read stdout through a pipe as it comes. */
  fputs (text, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
cli_json_print_node (JsonNode *node)
{
  g_autofree char *text = node_to_line (node);

  cli_print_flushed (text);
}

static char *
builder_to_string (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  return node_to_line (root);
}

void
cli_json_add_string (JsonBuilder *b, const char *member, const char *value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, value ? value : "");
}

void
cli_json_add_int (JsonBuilder *b, const char *member, gint64 value)
{
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, value);
}

void
cli_json_add_tunnel (JsonBuilder *b, NfltrDbusTunnel *t)
{
  json_builder_begin_object (b);
  cli_json_add_string (b, "id", nfltr_dbus_tunnel_get_id (t));
  cli_json_add_string (b, "name", nfltr_dbus_tunnel_get_name (t));
  cli_json_add_string (b, "kind", nfltr_dbus_tunnel_get_kind (t));
  cli_json_add_string (b, "target", nfltr_dbus_tunnel_get_target (t));
  cli_json_add_string (b, "url", nfltr_dbus_tunnel_get_public_url (t));
  cli_json_add_string (b, "mode", nfltr_dbus_tunnel_get_mode (t));
  cli_json_add_string (b, "fingerprint", nfltr_dbus_tunnel_get_fingerprint (t));
  cli_json_add_string (b, "certificate", nfltr_dbus_tunnel_get_certificate (t));
  cli_json_add_string (b, "state", nfltr_dbus_tunnel_get_state (t));
  cli_json_add_string (b, "last_error", nfltr_dbus_tunnel_get_last_error (t));
  cli_json_add_string (b, "origin_state", nfltr_dbus_tunnel_get_origin_state (t));
  cli_json_add_string (b, "origin_error", nfltr_dbus_tunnel_get_origin_error (t));
  cli_json_add_int (b, "origin_failures", (gint64) nfltr_dbus_tunnel_get_origin_failures (t));
  json_builder_set_member_name (b, "transient");
  json_builder_add_boolean_value (b, nfltr_dbus_tunnel_get_transient (t));
  /* json-glib integers are gint64; 2^63 bytes is not a concern. */
  cli_json_add_int (b, "active_connections", nfltr_dbus_tunnel_get_active_connections (t));
  cli_json_add_int (b, "total_connections", (gint64) nfltr_dbus_tunnel_get_total_connections (t));
  cli_json_add_int (b, "bytes_in", (gint64) nfltr_dbus_tunnel_get_bytes_in (t));
  cli_json_add_int (b, "bytes_out", (gint64) nfltr_dbus_tunnel_get_bytes_out (t));
  cli_json_add_int (b, "online_since", (gint64) nfltr_dbus_tunnel_get_online_since (t));
  /* issue 11 item 7 */
  cli_json_add_string (b, "certificate_source", nfltr_dbus_tunnel_get_certificate_source (t));
  cli_json_add_int (b, "certificate_expires", (gint64) nfltr_dbus_tunnel_get_certificate_expires (t));
  cli_json_add_string (b, "acme_domain", nfltr_dbus_tunnel_get_acme_domain (t));
  cli_json_add_string (b, "acme_status", nfltr_dbus_tunnel_get_acme_status (t));
  cli_json_add_string (b, "acme_error", nfltr_dbus_tunnel_get_acme_error (t));
  json_builder_end_object (b);
}

static JsonBuilder *
begin_event (const char *event)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  cli_json_add_string (b, "event", event);
  return b;
}

static char *
end_event (JsonBuilder *b)
{
  json_builder_end_object (b);
  return builder_to_string (b);
}

char *
cli_certificate_warning (NfltrDbusTunnel *t)
{
  const char *trust = nfltr_dbus_tunnel_get_certificate (t);
  const char *reason = nfltr_dbus_tunnel_get_certificate_reason (t);

  /* Not a website (tls://): its clients pin the fingerprint (`nfltr connect` does). */
  if (g_str_has_prefix (nfltr_dbus_tunnel_get_public_url (t), "tls://"))
    return NULL;
  if (g_strcmp0 (trust, "self-signed") == 0)
    /* TRANSLATORS: shown under the URL of a tunnel whose certificate the agent generated.
     * --e2ee-cert and --e2ee-key are options: do not translate them. */
    return g_strdup (_ ("self-signed: visitors' browsers will warn and curl will refuse it "
                        "(exit 60) unless they check the fingerprint above and trust it; give "
                        "your own certificate with --e2ee-cert and --e2ee-key to avoid this"));
  if (g_strcmp0 (trust, "untrusted") == 0)
    /* TRANSLATORS: %s says what is wrong with the user's own certificate, in English
     * ("expired", "not valid for HOST", "not signed by an authority clients trust") */
    return g_strdup_printf (_ ("your own, but %s: visitors' browsers will warn"),
                            reason != NULL && *reason ? reason : "not accepted by this system");
  return NULL;
}

char *
cli_event_ready_for (NfltrDbusTunnel *t, const char *url)
{
  g_autoptr(JsonBuilder) b = begin_event ("ready");
  g_autofree char *warning = cli_certificate_warning (t);

  cli_json_add_string (b, "url", url != NULL ? url : nfltr_dbus_tunnel_get_public_url (t));
  cli_json_add_string (b, "mode", nfltr_dbus_tunnel_get_mode (t));
  cli_json_add_string (b, "fingerprint", nfltr_dbus_tunnel_get_fingerprint (t));
  cli_json_add_string (b, "name", nfltr_dbus_tunnel_get_name (t));
  cli_json_add_string (b, "kind", nfltr_dbus_tunnel_get_kind (t));
  cli_json_add_string (b, "target", nfltr_dbus_tunnel_get_target (t));
  cli_json_add_string (b, "id", nfltr_dbus_tunnel_get_id (t));
  cli_json_add_string (b, "certificate", nfltr_dbus_tunnel_get_certificate (t));
  if (warning != NULL)
    cli_json_add_string (b, "certificate_warning", warning);
  return end_event (b);
}

char *
cli_event_add_string (const char *event, const char *key, const char *value)
{
  g_autoptr(JsonNode) node = json_from_string (event, NULL);
  g_autoptr(JsonGenerator) generator = json_generator_new ();

  g_return_val_if_fail (node != NULL && JSON_NODE_HOLDS_OBJECT (node), g_strdup (event));
  json_object_set_string_member (json_node_get_object (node), key, value);
  json_generator_set_root (generator, node);
  json_generator_set_pretty (generator, FALSE);
  return json_generator_to_data (generator, NULL);
}

char *
cli_event_stats (guint active, guint64 total, guint64 bytes_in, guint64 bytes_out)
{
  g_autoptr(JsonBuilder) b = begin_event ("stats");

  /* json-glib integers are gint64; 2^63 bytes is not a concern. */
  cli_json_add_int (b, "active_connections", active);
  cli_json_add_int (b, "total_connections", (gint64) total);
  cli_json_add_int (b, "bytes_in", (gint64) bytes_in);
  cli_json_add_int (b, "bytes_out", (gint64) bytes_out);
  return end_event (b);
}

char *
cli_event_origin (const char *state, const char *error, guint64 failures)
{
  g_autoptr(JsonBuilder) b = begin_event ("origin");

  cli_json_add_string (b, "state", state);
  cli_json_add_string (b, "error", error);
  cli_json_add_int (b, "failures", (gint64) failures);
  return end_event (b);
}

char *
cli_event_state (const char *state, const char *last_error)
{
  g_autoptr(JsonBuilder) b = begin_event ("state");

  cli_json_add_string (b, "state", state);
  cli_json_add_string (b, "last_error", last_error);
  return end_event (b);
}

char *
cli_event_error (const char *message)
{
  g_autoptr(JsonBuilder) b = begin_event ("error");

  cli_json_add_string (b, "message", message);
  return end_event (b);
}

char *
cli_event_stopped (void)
{
  g_autoptr(JsonBuilder) b = begin_event ("stopped");

  return end_event (b);
}

void
cli_json_print_line (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);

  cli_json_print_node (root);
}
