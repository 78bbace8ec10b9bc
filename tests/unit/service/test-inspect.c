/* test-inspect.c — the request inspector's pure parts (service/inspect/, issue 9 §8): the
 * bounded ring, body capture (cap, binary, gzip), the HAR export, the HTTP/1.1 observer, the
 * Host/rebinding check and the loopback-only address, the replay's edits. */
#include <glib.h>
#include <string.h>

#include "nfltr-inspect-address.h"
#include "nfltr-inspect-edits.h"
#include "nfltr-inspect-h1.h"
#include "nfltr-inspect-record.h"
#include "nfltr-inspect-store.h"

/* Runs the idle sources the store signals from. */
static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static NfltrInspectExchange *
make (const char *path, gsize body_len)
{
  NfltrInspectExchange *ex = nfltr_inspect_exchange_new ();

  ex->method = g_strdup ("GET");
  ex->path = g_strdup (path);
  if (body_len > 0)
    ex->resp_body = g_bytes_new_take (g_malloc0 (body_len), body_len);
  return ex;
}

static void
test_ring_count_bound (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (3, 1024 * 1024, 0);
  g_autoptr(GPtrArray) list = NULL;

  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *path = g_strdup_printf ("/%u", i);
      g_autoptr(NfltrInspectExchange) ex = make (path, 0);

      g_assert_cmpuint (nfltr_inspect_store_add (store, ex), ==, i + 1);
    }
  g_assert_cmpuint (nfltr_inspect_store_get_count (store), ==, 3);
  list = nfltr_inspect_store_list (store, 0);
  g_assert_cmpuint (list->len, ==, 3);
  /* The oldest went first; the ids keep counting. */
  g_assert_cmpstr (((NfltrInspectExchange *) list->pdata[0])->path, ==, "/2");
  g_assert_cmpuint (((NfltrInspectExchange *) list->pdata[2])->id, ==, 5);
  g_assert_null (nfltr_inspect_store_get (store, 1));
  g_clear_pointer (&list, g_ptr_array_unref);
  list = nfltr_inspect_store_list (store, 4);
  g_assert_cmpuint (list->len, ==, 1);
  drain ();
}

static void
test_ring_byte_bound (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (100, 10000, 4096);

  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(NfltrInspectExchange) ex = make ("/big", 3000);

      nfltr_inspect_store_add (store, ex);
      g_assert_cmpuint (nfltr_inspect_store_get_bytes (store), <=, 10000);
    }
  /* Three bodies of 3000 and their overhead do not fit in 10000 with a fourth. */
  g_assert_cmpuint (nfltr_inspect_store_get_count (store), <=, 3);
  g_assert_cmpuint (nfltr_inspect_store_get_count (store), >=, 2);

  /* One exchange larger than the whole bound keeps its metadata only. */
  {
    g_autoptr(NfltrInspectExchange) huge = make ("/huge", 20000);
    g_autoptr(NfltrInspectExchange) got = NULL;

    huge->resp_size = 20000;
    nfltr_inspect_store_add (store, huge);
    got = nfltr_inspect_store_get (store, huge->id);
    g_assert_nonnull (got);
    g_assert_null (got->resp_body);
    g_assert_true (got->resp_truncated);
    g_assert_cmpuint (nfltr_inspect_store_get_bytes (store), <=, 10000);
  }
  drain ();
}

static void
added_cb (NfltrInspectStore *store, NfltrInspectExchange *ex, gpointer user_data)
{
  /* A listener may read the store: the signal comes without its lock held. */
  g_assert_cmpuint (nfltr_inspect_store_get_count (store), >=, 1);
  *(guint64 *) user_data = ex->id;
}

static void
test_signal_from_idle (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 100000, 0);
  g_autoptr(NfltrInspectExchange) ex = make ("/", 0);
  guint64 seen = 0;

  g_signal_connect (store, "exchange-added", G_CALLBACK (added_cb), &seen);
  nfltr_inspect_store_add (store, ex);
  g_assert_cmpuint (seen, ==, 0);
  drain ();
  g_assert_cmpuint (seen, ==, 1);
}

static NfltrInspectExchange *
only_exchange (NfltrInspectStore *store)
{
  g_autoptr(GPtrArray) list = nfltr_inspect_store_list (store, 0);

  g_assert_cmpuint (list->len, ==, 1);
  return nfltr_inspect_exchange_ref (list->pdata[0]);
}

static void
test_body_cap_and_binary (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 1 << 20, 8);
  NfltrInspectRecord *rec = nfltr_inspect_record_new (store, "2", "192.0.2.1:1");
  g_autoptr(NfltrInspectExchange) ex = NULL;
  static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13 };

  nfltr_inspect_record_request_header (rec, ":method", 7, "POST", 4);
  nfltr_inspect_record_request_header (rec, ":path", 5, "/up", 3);
  nfltr_inspect_record_request_header (rec, ":authority", 10, "a.example", 9);
  nfltr_inspect_record_request_body (rec, (const guint8 *) "hello ", 6);
  nfltr_inspect_record_request_body (rec, (const guint8 *) "world", 5);
  nfltr_inspect_record_response_header (rec, ":status", 7, "201", 3);
  nfltr_inspect_record_response_body (rec, png, sizeof png);
  nfltr_inspect_record_finish (rec, NULL);

  ex = only_exchange (store);
  g_assert_cmpstr (ex->method, ==, "POST");
  g_assert_cmpstr (ex->path, ==, "/up");
  g_assert_cmpstr (ex->host, ==, "a.example");
  g_assert_cmpuint (ex->status, ==, 201);
  /* Sizes count everything; the kept part stops at the cap. */
  g_assert_cmpuint (ex->req_size, ==, 11);
  g_assert_cmpmem (g_bytes_get_data (ex->req_body, NULL), g_bytes_get_size (ex->req_body), "hello wo", 8);
  g_assert_true (ex->req_truncated);
  g_assert_false (ex->req_binary);
  /* Binary is flagged and kept as it came (the page shows hex), not mangled. */
  g_assert_true (ex->resp_binary);
  g_assert_cmpmem (g_bytes_get_data (ex->resp_body, NULL), g_bytes_get_size (ex->resp_body), png, 8);
  /* Pseudo-fields are not headers. */
  g_assert_cmpuint (ex->req_headers->len, ==, 0);
  drain ();
}

static GBytes *
gzip (const char *text)
{
  g_autoptr(GConverter) c = G_CONVERTER (g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1));
  guint8 out[4096];
  gsize read, written;

  g_assert_cmpint (g_converter_convert (c, text, strlen (text), out, sizeof out, G_CONVERTER_INPUT_AT_END,
                                        &read, &written, NULL),
                   ==, G_CONVERTER_FINISHED);
  return g_bytes_new (out, written);
}

static void
test_gzip_decoded (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 1 << 20, 4096);
  g_autoptr(GBytes) z = gzip ("{\"hello\": \"gzip\"}");
  NfltrInspectRecord *rec = nfltr_inspect_record_new (store, "1.1", NULL);
  g_autoptr(NfltrInspectExchange) ex = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;

  nfltr_inspect_record_request_line (rec, "GET", "/z");
  nfltr_inspect_record_response_status (rec, 200);
  nfltr_inspect_record_response_header (rec, "Content-Encoding", 16, "gzip", 4);
  nfltr_inspect_record_response_body (rec, g_bytes_get_data (z, NULL), g_bytes_get_size (z));
  nfltr_inspect_record_finish (rec, NULL);
  ex = only_exchange (store);
  g_assert_true (ex->resp_decoded);
  g_assert_false (ex->resp_binary);
  g_assert_cmpmem (g_bytes_get_data (ex->resp_body, NULL), g_bytes_get_size (ex->resp_body),
                   "{\"hello\": \"gzip\"}", 17);
  /* The size on the wire stays the compressed one. */
  g_assert_cmpuint (ex->resp_size, ==, g_bytes_get_size (z));
  node = nfltr_inspect_exchange_to_json (ex, TRUE);
  json = json_to_string (node, FALSE);
  g_assert_nonnull (strstr (json, "\"response_decoded\":true"));

  /* Not gzip after all: shown as it came, flagged binary if it is. */
  {
    gboolean decoded = TRUE, truncated = FALSE;
    g_autoptr(GBytes) junk = g_bytes_new_static ("\x1f\x8b nope", 7);
    g_autoptr(GBytes) shown = nfltr_inspect_decode_body (junk, "gzip", 100, &decoded, &truncated);

    g_assert_true (g_bytes_equal (shown, junk));
  }
  drain ();
}

static void
test_metadata_only_by_default (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 1 << 20, 0);
  NfltrInspectRecord *rec = nfltr_inspect_record_new (store, "1.1", NULL);
  g_autoptr(NfltrInspectExchange) ex = NULL;

  nfltr_inspect_record_request_line (rec, "POST", "/secret");
  nfltr_inspect_record_request_body (rec, (const guint8 *) "password=1", 10);
  nfltr_inspect_record_finish (rec, "no response");
  ex = only_exchange (store);
  g_assert_null (ex->req_body);
  g_assert_cmpuint (ex->req_size, ==, 10);
  g_assert_cmpstr (ex->error, ==, "no response");
  /* NULL records are no-ops: hooks stay one line. */
  g_assert_null (nfltr_inspect_record_new (NULL, "1.1", NULL));
  nfltr_inspect_record_request_body (NULL, (const guint8 *) "x", 1);
  g_assert_cmpuint (nfltr_inspect_record_finish (NULL, NULL), ==, 0);
  drain ();
}

static void
test_har (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 1 << 20, 1024);
  NfltrInspectRecord *rec = nfltr_inspect_record_new (store, "1.1", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *har = NULL;
  JsonObject *entry, *request, *response;

  nfltr_inspect_record_request_line (rec, "POST", "/api?q=1");
  nfltr_inspect_record_request_header (rec, "Host", 4, "app.example", 11);
  nfltr_inspect_record_request_body (rec, (const guint8 *) "a=b", 3);
  nfltr_inspect_record_response_status (rec, 404);
  nfltr_inspect_record_response_header (rec, "Content-Type", 12, "text/plain", 10);
  nfltr_inspect_record_response_body (rec, (const guint8 *) "\0\1", 2);
  nfltr_inspect_record_finish (rec, NULL);

  har = nfltr_inspect_store_to_har (store);
  g_assert_true (json_parser_load_from_data (parser, har, -1, NULL));
  entry = json_array_get_object_element (
    json_object_get_array_member (json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "log"),
                                  "entries"),
    0);
  request = json_object_get_object_member (entry, "request");
  response = json_object_get_object_member (entry, "response");
  g_assert_cmpstr (json_object_get_string_member (request, "method"), ==, "POST");
  g_assert_cmpstr (json_object_get_string_member (request, "url"), ==, "https://app.example/api?q=1");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (request, "postData"), "text"), ==, "a=b");
  g_assert_cmpint (json_object_get_int_member (response, "status"), ==, 404);
  /* A binary body travels as base64, as HAR 1.2 allows. */
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (response, "content"), "encoding"), ==,
                   "base64");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (response, "content"), "text"), ==,
                   "AAE=");
  drain ();
}

/* The observer at every split point of a keep-alive connection. */
static void
test_h1_observer_splits (void)
{
  static const char req[] =
    "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    "GET /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    "HEAD /c HTTP/1.1\r\nHost: h\r\n\r\n";
  static const char resp[] =
    "HTTP/1.1 100 Continue\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nnope\r\n0\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";

  for (gsize split = 0; split <= strlen (resp); split += 7)
    {
      g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 1 << 20, 64);
      NfltrInspectH1 *h1 = nfltr_inspect_h1_new (store, "c");
      g_autoptr(GPtrArray) list = NULL;
      NfltrInspectExchange *a, *b, *c;

      nfltr_inspect_h1_feed_request (h1, (const guint8 *) req, MIN (split, strlen (req)));
      nfltr_inspect_h1_feed_request (h1, (const guint8 *) req + MIN (split, strlen (req)),
                                     strlen (req) - MIN (split, strlen (req)));
      nfltr_inspect_h1_feed_response (h1, (const guint8 *) resp, split);
      nfltr_inspect_h1_feed_response (h1, (const guint8 *) resp + split, strlen (resp) - split);
      nfltr_inspect_h1_free (h1);

      list = nfltr_inspect_store_list (store, 0);
      g_assert_cmpuint (list->len, ==, 3);
      a = list->pdata[0], b = list->pdata[1], c = list->pdata[2];
      g_assert_cmpstr (a->path, ==, "/a");
      g_assert_cmpuint (a->status, ==, 200);
      g_assert_cmpuint (a->req_size, ==, 5);
      g_assert_cmpuint (a->resp_size, ==, 2);
      g_assert_cmpmem (g_bytes_get_data (a->req_body, NULL), g_bytes_get_size (a->req_body), "hello", 5);
      g_assert_cmpstr (b->path, ==, "/b");
      g_assert_cmpuint (b->status, ==, 404);
      g_assert_cmpmem (g_bytes_get_data (b->req_body, NULL), g_bytes_get_size (b->req_body), "abc", 3);
      g_assert_cmpmem (g_bytes_get_data (b->resp_body, NULL), g_bytes_get_size (b->resp_body), "nope", 4);
      /* HEAD's answer has no body whatever its Content-Length says. */
      g_assert_cmpstr (c->method, ==, "HEAD");
      g_assert_cmpuint (c->resp_size, ==, 0);
      g_assert_null (c->error);
      drain ();
    }
}

static void
test_h1_unanswered_and_upgrade (void)
{
  g_autoptr(NfltrInspectStore) store = nfltr_inspect_store_new (10, 1 << 20, 0);
  NfltrInspectH1 *h1 = nfltr_inspect_h1_new (store, NULL);
  g_autoptr(GPtrArray) list = NULL;
  static const char req[] = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                            "\x81\x05hello";
  static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi";

  nfltr_inspect_h1_feed_request (h1, (const guint8 *) req, sizeof req - 1);
  nfltr_inspect_h1_feed_response (h1, (const guint8 *) resp, sizeof resp - 1);
  /* After the switch nothing is HTTP: not recorded. */
  nfltr_inspect_h1_feed_request (h1, (const guint8 *) "GET /no HTTP/1.1\r\n\r\n", 20);
  nfltr_inspect_h1_free (h1);
  list = nfltr_inspect_store_list (store, 0);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpuint (((NfltrInspectExchange *) list->pdata[0])->status, ==, 101);
  g_clear_pointer (&list, g_ptr_array_unref);

  h1 = nfltr_inspect_h1_new (store, NULL);
  nfltr_inspect_h1_feed_request (h1, (const guint8 *) "GET /lost HTTP/1.1\r\nHost: h\r\n\r\n", 31);
  nfltr_inspect_h1_free (h1);
  list = nfltr_inspect_store_list (store, 1);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((NfltrInspectExchange *) list->pdata[0])->path, ==, "/lost");
  g_assert_nonnull (((NfltrInspectExchange *) list->pdata[0])->error);
  drain ();
}

static void
test_host_check (void)
{
  g_assert_true (nfltr_inspect_host_allowed ("127.0.0.1:4040", "127.0.0.1", 4040));
  g_assert_true (nfltr_inspect_host_allowed ("localhost:4040", "127.0.0.1", 4040));
  g_assert_true (nfltr_inspect_host_allowed ("[::1]:4041", "::1", 4041));
  /* DNS rebinding: the attacker's name, resolved to 127.0.0.1. */
  g_assert_false (nfltr_inspect_host_allowed ("evil.example:4040", "127.0.0.1", 4040));
  g_assert_false (nfltr_inspect_host_allowed ("127.0.0.1.evil.example:4040", "127.0.0.1", 4040));
  g_assert_false (nfltr_inspect_host_allowed ("127.0.0.1:4041", "127.0.0.1", 4040));
  g_assert_false (nfltr_inspect_host_allowed ("127.0.0.1", "127.0.0.1", 4040));
  g_assert_false (nfltr_inspect_host_allowed ("[::1]:4040", "127.0.0.1", 4040));
  g_assert_false (nfltr_inspect_host_allowed (NULL, "127.0.0.1", 4040));
  g_assert_false (nfltr_inspect_host_allowed ("", "127.0.0.1", 4040));
}

static void
test_listen_address (void)
{
  struct {
    const char *text;
    const char *host;
    guint16 port;
  } ok[] = {
    { "127.0.0.1:4040", "127.0.0.1", 4040 },
    { "4041", "127.0.0.1", 4041 },
    { "", "127.0.0.1", 4040 },
    { "localhost:5000", "127.0.0.1", 5000 },
    { "[::1]:4040", "::1", 4040 },
    { "127.0.0.2:80", "127.0.0.2", 80 },
  };
  const char *bad[] = { "0.0.0.0:4040", "192.0.2.1:4040", "[::]:4040", "example.com:4040", "nonsense:x" };

  for (guint i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;
      g_autoptr(GError) error = NULL;

      g_assert_true (nfltr_inspect_parse_listen_address (ok[i].text, &host, &port, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (host, ==, ok[i].host);
      g_assert_cmpuint (port, ==, ok[i].port);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *host = NULL;
      guint16 port = 0;
      g_autoptr(GError) error = NULL;

      g_assert_false (nfltr_inspect_parse_listen_address (bad[i], &host, &port, &error));
      g_assert_nonnull (error);
    }
}

static void
test_edits (void)
{
  g_autoptr(NfltrInspectExchange) ex = make ("/orig", 0);
  NfltrInspectHeader *h = g_new0 (NfltrInspectHeader, 1);
  const char *bad[] = {
    "[]", "{\"method\": \"GE T\"}", "{\"path\": \"nope\"}", "{\"path\": \"/a b\"}",
    "{\"headers\": [[\"X\", \"a\\r\\nB: c\"]]}", "{\"headers\": [[\"X Y\", \"v\"]]}",
    "{\"headers\": [\"X\"]}", "{\"body\": 1}", "{\"body\": \"a\", \"body_base64\": \"YQ==\"}",
    "{\"what\": 1}", "not json",
  };

  h->name = g_strdup ("Host");
  h->value = g_strdup ("app.example");
  g_ptr_array_add (ex->req_headers, h);
  ex->id = 7;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_null (nfltr_inspect_edits_parse (bad[i], strlen (bad[i]), &error));
      g_assert_nonnull (error);
    }
  {
    const char *json = "{\"method\": \"PUT\", \"path\": \"/new\", \"headers\": [[\"X-A\", \"1\"], "
                       "[\"Content-Length\", \"999\"]], \"body\": \"xyz\"}";
    g_autoptr (NfltrInspectEdits) edits = nfltr_inspect_edits_parse (json, strlen (json), NULL);
    g_autoptr (GBytes) req = NULL;
    g_autofree char *text = NULL;

    g_assert_nonnull (edits);
    req = nfltr_inspect_build_request (ex, edits, "127.0.0.1", NULL);
    text = g_strndup (g_bytes_get_data (req, NULL), g_bytes_get_size (req));
    /* The framing is ours: a Content-Length edit cannot make the server read it otherwise. */
    g_assert_cmpstr (
      text, ==,
      "PUT /new HTTP/1.1\r\nX-A: 1\r\nHost: 127.0.0.1\r\nX-Nfltr-Replay: 7\r\nContent-Length: 3\r\n"
      "Connection: close\r\n\r\nxyz");
  }
  {
    g_autoptr (NfltrInspectEdits) edits = nfltr_inspect_edits_parse ("", 0, NULL);
    g_autoptr (GBytes) req = nfltr_inspect_build_request (ex, edits, "127.0.0.1", NULL);
    g_autofree char *text = g_strndup (g_bytes_get_data (req, NULL), g_bytes_get_size (req));

    g_assert_cmpstr (
      text, ==, "GET /orig HTTP/1.1\r\nHost: app.example\r\nX-Nfltr-Replay: 7\r\nConnection: close\r\n\r\n");
  }
  {
    g_autoptr (GError) error = NULL;

    /* A body that was not kept cannot be re-sent as it was. */
    ex->req_size = 10;
    g_assert_null (nfltr_inspect_build_request (ex, NULL, "127.0.0.1", &error));
    g_assert_nonnull (strstr (error->message, "--inspect-bodies"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/inspect/ring/count", test_ring_count_bound);
  g_test_add_func ("/inspect/ring/bytes", test_ring_byte_bound);
  g_test_add_func ("/inspect/ring/signal", test_signal_from_idle);
  g_test_add_func ("/inspect/body/cap-binary", test_body_cap_and_binary);
  g_test_add_func ("/inspect/body/gzip", test_gzip_decoded);
  g_test_add_func ("/inspect/body/off", test_metadata_only_by_default);
  g_test_add_func ("/inspect/har", test_har);
  g_test_add_func ("/inspect/h1/splits", test_h1_observer_splits);
  g_test_add_func ("/inspect/h1/unanswered-upgrade", test_h1_unanswered_and_upgrade);
  g_test_add_func ("/inspect/address/host", test_host_check);
  g_test_add_func ("/inspect/address/listen", test_listen_address);
  g_test_add_func ("/inspect/edits", test_edits);
  return g_test_run ();
}
