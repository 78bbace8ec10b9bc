/* nfltr-web-page.c — what every app's answers share: the page shell with the verified
 * badge, error answers, the security headers, the assets and the streamed body */
#define G_LOG_DOMAIN "nfltr-web"

#include "nfltr-web-private.h"

#include <string.h>

#include "nfltr-web-resources.h"

#define ASSETS_RESOURCE "/xyz/nfltr/Nfltr/web/"
/* One read ahead of the socket: big enough for full TLS records, small enough per client. */
#define STREAM_CHUNK (64 * 1024)

/* No inline script or style anywhere (the pages load /.nfltr/nfltr.js and style.css), so the
 * policy can forbid both; no framing (clickjacking); forms post back here only. */
#define CSP                                                                                                  \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                          \
  "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "                               \
  "form-action 'self'; frame-ancestors 'none'"

void
nfltr_web_add_security_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Content-Security-Policy", CSP);
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  /* A token in the URL must never travel to another site in a Referer. */
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "X-Frame-Options", "DENY");
  soup_message_headers_replace (h, "Cross-Origin-Opener-Policy", "same-origin");
}

void
nfltr_web_append_escaped (GString *out, const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text ? text : "", -1);

  g_string_append (out, escaped);
}

gboolean
nfltr_web_wants_html (SoupServerMessage *msg)
{
  const char *accept = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "Accept");

  return accept != NULL && strstr (accept, "text/html") != NULL;
}

GString *
nfltr_web_page_begin (NfltrWebServer *web, const char *title)
{
  GString *page = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                                "<meta name=\"referrer\" content=\"no-referrer\">"
                                "<link rel=\"stylesheet\" href=\"" NFLTR_WEB_ASSETS_PREFIX "style.css\">"
                                "<link rel=\"icon\" href=\"" NFLTR_WEB_ASSETS_PREFIX "icon.svg\">"
                                "<script src=\"" NFLTR_WEB_ASSETS_PREFIX "nfltr.js\" defer></script>"
                                "<title>");
  g_autofree char *fingerprint = nfltr_web_server_dup_fingerprint (web);

  nfltr_web_append_escaped (page, title);
  g_string_append (page, " — ");
  nfltr_web_append_escaped (page, _nfltr_web_server_get_title (web));
  g_string_append (page, "</title></head><body><header class=\"nfltr-header\">"
                         "<span class=\"nfltr-app\">");
  nfltr_web_append_escaped (page, _nfltr_web_server_get_title (web));
  g_string_append (page, "</span>");
  /* What "verified" means here: TLS ends on the agent, with the certificate whose
   * fingerprint is shown; the visitor compares it with the one their browser was given. */
  if (_nfltr_web_server_is_inspectable (web))
    g_string_append (page, "<span class=\"nfltr-badge nfltr-inspectable\" id=\"nfltr-badge\" "
                           "title=\"The relay terminates TLS for this tunnel (--e2ee=false).\">"
                           "⚠ Inspectable: the relay can read this page");
  else
    g_string_append (page, "<span class=\"nfltr-badge\" id=\"nfltr-badge\" "
                           "title=\"TLS ends on the sharing machine; the relay cannot read this page. "
                           "Compare the fingerprint with the certificate your browser shows.\">"
                           "<span class=\"nfltr-check\" aria-hidden=\"true\">✔</span> Verified end-to-end");
  if (fingerprint != NULL)
    {
      g_string_append (page, " <code class=\"nfltr-fingerprint\" id=\"nfltr-fingerprint\">");
      nfltr_web_append_escaped (page, fingerprint);
      g_string_append (page, "</code>");
    }
  g_string_append (page, "</span></header>\n<main>");
  return page;
}

void
nfltr_web_page_finish (NfltrWebServer    *web,
                       SoupServerMessage *msg,
                       guint              status,
                       GString           *page)
{
  g_autoptr(GBytes) bytes = NULL;

  g_string_append (page, "</main></body></html>\n");
  bytes = g_string_free_to_bytes (page);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  nfltr_web_respond_bytes (msg, status, "text/html; charset=utf-8", bytes);
}

void
nfltr_web_respond_bytes (SoupServerMessage *msg,
                         guint              status,
                         const char        *content_type,
                         GBytes            *bytes)
{
  gsize len;
  gconstpointer data = g_bytes_get_data (bytes, &len);

  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY, data, len);
}

void
nfltr_web_respond_error (NfltrWebServer    *web,
                         SoupServerMessage *msg,
                         guint              status,
                         const char        *message)
{
  if (nfltr_web_wants_html (msg))
    {
      GString *page = nfltr_web_page_begin (web, soup_status_get_phrase (status));

      g_string_append_printf (page, "<section class=\"nfltr-error\"><h1>%u ", status);
      nfltr_web_append_escaped (page, soup_status_get_phrase (status));
      g_string_append (page, "</h1><p>");
      nfltr_web_append_escaped (page, message);
      g_string_append (page, "</p></section>");
      nfltr_web_page_finish (web, msg, status, page);
    }
  else
    {
      g_autofree char *line = g_strdup_printf ("%u %s: %s\n", status, soup_status_get_phrase (status),
                                               message);

      soup_server_message_set_status (msg, status, NULL);
      soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, line,
                                        strlen (line));
    }
}

void
nfltr_web_refuse_body (SoupServerMessage *msg)
{
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
}

static const char *
asset_type (const char *name)
{
  if (g_str_has_suffix (name, ".js"))
    return "text/javascript; charset=utf-8";
  if (g_str_has_suffix (name, ".css"))
    return "text/css; charset=utf-8";
  if (g_str_has_suffix (name, ".svg"))
    return "image/svg+xml";
  return "application/octet-stream";
}

gboolean
nfltr_web_respond_resource (SoupServerMessage  *msg,
                            GResource          *resource,
                            const char         *dir,
                            const char * const *names,
                            const char         *name)
{
  g_autofree char *path = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (!g_strv_contains (names, name))
    return FALSE;
  path = g_strconcat (dir, name, NULL);
  bytes = g_resource_lookup_data (resource, path, 0, NULL);
  if (bytes == NULL)
    return FALSE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "max-age=3600");
  nfltr_web_respond_bytes (msg, SOUP_STATUS_OK, asset_type (name), bytes);
  return TRUE;
}

gboolean
nfltr_web_serve_asset (SoupServerMessage *msg, const char *path)
{
  static const char * const names[] = { "style.css", "nfltr.js", "icon.svg", NULL };

  /* Looked up in our GResource by name: referencing it keeps the resource object in the link
   * of every binary built from the static archive. */
  return g_str_has_prefix (path, NFLTR_WEB_ASSETS_PREFIX) &&
         nfltr_web_respond_resource (msg, nfltr_web_get_resource (), ASSETS_RESOURCE, names,
                                     path + strlen (NFLTR_WEB_ASSETS_PREFIX));
}

/* ---- a streamed body ---- */

typedef struct {
  SoupServerMessage *msg;       /* weak: cleared when the message finishes */
  GInputStream *in;
  GCancellable *cancellable;
  void (*done) (gboolean complete, gpointer user_data);
  gpointer user_data;
  gboolean reading;
  gboolean eof;
  gboolean finished;            /* the message is gone (written or aborted) */
  gboolean reported;
  gulong wrote_id, finished_id;
} Pump;

static void pump_read (Pump *p);

static void
pump_report (Pump *p, gboolean complete)
{
  if (!p->reported && p->done != NULL)
    p->done (complete, p->user_data);
  p->reported = TRUE;
}

static void
pump_free_if_idle (Pump *p)
{
  if (p->reading || !p->finished)
    return;
  pump_report (p, FALSE);
  g_input_stream_close (p->in, NULL, NULL);
  g_clear_object (&p->in);
  g_clear_object (&p->cancellable);
  g_free (p);
}

static void
read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Pump *p = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
  SoupMessageBody *body;

  p->reading = FALSE;
  if (p->finished)
    {
      pump_free_if_idle (p);
      return;
    }
  body = soup_server_message_get_response_body (p->msg);
  if (bytes == NULL)
    {
      /* Mid-body there is no status to send any more: cut the connection, so the client
       * sees a short body and does not take it for the whole. */
      g_debug ("streamed body failed: %s", error->message);
      pump_report (p, FALSE);
      if (soup_server_message_get_socket (p->msg) != NULL)
        g_socket_shutdown (soup_server_message_get_socket (p->msg), TRUE, TRUE, NULL);
      soup_server_message_unpause (p->msg);
      return;
    }
  if (g_bytes_get_size (bytes) == 0)
    {
      p->eof = TRUE;
      soup_message_body_complete (body);
    }
  else
    soup_message_body_append_bytes (body, bytes);
  soup_server_message_unpause (p->msg);
}

static void
pump_read (Pump *p)
{
  if (p->reading || p->eof || p->finished)
    return;
  p->reading = TRUE;
  soup_server_message_pause (p->msg);
  g_input_stream_read_bytes_async (p->in, STREAM_CHUNK, G_PRIORITY_DEFAULT, p->cancellable,
                                   read_cb, p);
}

static void
wrote_chunk_cb (SoupServerMessage *msg, gpointer user_data)
{
  pump_read (user_data);
}

static void
finished_cb (SoupServerMessage *msg, gpointer user_data)
{
  Pump *p = user_data;

  g_signal_handler_disconnect (msg, p->wrote_id);
  g_signal_handler_disconnect (msg, p->finished_id);
  p->finished = TRUE;
  if (p->eof)
    pump_report (p, TRUE);
  p->msg = NULL;
  g_cancellable_cancel (p->cancellable);
  pump_free_if_idle (p);
}

void
nfltr_web_send_stream (SoupServerMessage *msg,
                       GInputStream      *in,
                       goffset            length,
                       void             (*done) (gboolean complete, gpointer user_data),
                       gpointer           user_data)
{
  Pump *p = g_new0 (Pump, 1);
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  p->msg = msg;
  p->in = g_object_ref (in);
  p->cancellable = g_cancellable_new ();
  p->done = done;
  p->user_data = user_data;
  if (length >= 0)
    soup_message_headers_set_content_length (h, length);
  else
    soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
  /* Written chunks are dropped, not kept for the whole body. */
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  p->wrote_id = g_signal_connect (msg, "wrote-chunk", G_CALLBACK (wrote_chunk_cb), p);
  p->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (finished_cb), p);
  if (length == 0 || soup_server_message_get_method (msg) == SOUP_METHOD_HEAD)
    {
      p->eof = TRUE;
      soup_message_body_complete (soup_server_message_get_response_body (msg));
      return;
    }
  pump_read (p);
}
