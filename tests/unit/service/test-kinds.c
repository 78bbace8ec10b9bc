/* test-kinds.c — the tunnel-kind registry and the http and tcp kinds' hooks
 * (service/kinds/): option parsing, target description, ALPN, filter, unreachable answer,
 * backend connect. */
#include "nfltr-data-conn.h"
#include "nfltr-error.h"
#include "nfltr-tunnel-kind.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void
test_registry (void)
{
  guint n = 0;
  NfltrTunnelKind **list = nfltr_tunnel_kind_list (&n);
  g_autoptr(GVariant) variant = g_variant_ref_sink (nfltr_tunnel_kind_list_to_variant ());
  g_autoptr(GError) error = NULL;
  const char *id, *label, *description;

  g_assert_cmpuint (n, ==, 3);
  g_assert_cmpstr (nfltr_tunnel_kind_get_id (list[0]), ==, "http");
  g_assert_cmpstr (nfltr_tunnel_kind_get_id (list[1]), ==, "tcp");
  g_assert_cmpstr (nfltr_tunnel_kind_get_id (list[2]), ==, "shell");
  g_assert_null (list[3]);
  g_assert_true (nfltr_tunnel_kind_lookup ("http") == list[0]);
  g_assert_true (nfltr_tunnel_kind_lookup ("tcp") == list[1]);
  g_assert_null (nfltr_tunnel_kind_lookup ("udp"));
  g_assert_null (nfltr_tunnel_kind_lookup ("HTTP"));
  g_assert_null (nfltr_tunnel_kind_lookup (""));
  g_assert_null (nfltr_tunnel_kind_lookup (NULL));

  g_assert_cmpstr (g_variant_get_type_string (variant), ==, "a(sss)");
  g_assert_cmpuint (g_variant_n_children (variant), ==, 3);
  g_variant_get_child (variant, 1, "(&s&s&s)", &id, &label, &description);
  g_assert_cmpstr (id, ==, "tcp");
  g_assert_cmpstr (label, ==, "TCP");
  g_assert_cmpstr (description, ==, nfltr_tunnel_kind_get_description (list[1]));

  nfltr_tunnel_kind_set_unknown_error (&error, "udp");
  g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "kind must be “http”, “tcp” or “shell”, not “udp”");
  g_clear_error (&error);
  nfltr_tunnel_kind_set_unknown_error (&error, NULL);
  g_assert_cmpstr (error->message, ==, "kind must be “http”, “tcp” or “shell”, not “”");
}

static GVariant *
create_options (const char *kind, const char *target)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  /* The whole CreateTunnel dict reaches the kind; it must ignore the generic keys. */
  g_variant_dict_insert (&dict, "kind", "s", kind);
  g_variant_dict_insert (&dict, "target", "s", target);
  g_variant_dict_insert (&dict, "name", "s", "myapp");
  g_variant_dict_insert (&dict, "e2ee", "b", FALSE);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
test_parse (gconstpointer data)
{
  const char *kind_id = data;
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup (kind_id);
  static const struct {
    const char *target, *described;
  } good[] = {
    { "3000", "127.0.0.1:3000" },  /* a bare port is the IPv4 loopback, as before */
    { "127.0.0.1:8080", "127.0.0.1:8080" },
    { "localhost:65535", "localhost:65535" },
    { "[::1]:22", "[::1]:22" },
    { "db.example:5432", "db.example:5432" },
  };
  static const struct {
    const char *target, *message;
  } bad[] = {
    { NULL, "target is missing (PORT or HOST:PORT)" },
    { "", "target is missing (PORT or HOST:PORT)" },
    { "70000", "port 70000 is out of range 1–65535" },
    { "localhost:0", "port 0 is out of range 1–65535" },
    { "web", "address “web” has no port" },
  };

  g_assert_nonnull (kind);
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GVariant) options = create_options (kind_id, good[i].target);
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) config = nfltr_tunnel_kind_parse (kind, good[i].target, options, &error);
      g_autofree char *described = NULL;
      g_autoptr(GVariant) again = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (config);
      g_assert_true (g_variant_is_of_type (config, G_VARIANT_TYPE_VARDICT));
      described = nfltr_tunnel_kind_describe_target (kind, config);
      g_assert_cmpstr (described, ==, good[i].described);
      /* What is saved in tunnels.json must parse back to the same thing (restore). */
      again = nfltr_tunnel_kind_parse (kind, described, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_variant_equal (config, again));
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) config = nfltr_tunnel_kind_parse (kind, bad[i].target, NULL, &error);

      g_assert_null (config);
      g_assert_error (error, NFLTR_ERROR, NFLTR_ERROR_INVALID_ARGUMENT);
      g_assert_cmpstr (error->message, ==, bad[i].message);
    }
}

static GVariant *
parse_ok (NfltrTunnelKind *kind, const char *target)
{
  g_autoptr(GError) error = NULL;
  GVariant *config = nfltr_tunnel_kind_parse (kind, target, NULL, &error);

  g_assert_no_error (error);
  return config;
}

static void
test_http_hooks (void)
{
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup ("http");
  g_autoptr (GVariant) config = parse_ok (kind, "3000");
  const char * const *alpn = nfltr_tunnel_kind_get_alpn (kind);
  NfltrKindConn conn = {
    .client_addr = "203.0.113.7:50123", .sni = "myapp.nfltr.localhost", .cancel_fd = -1, .timeout_ms = 1000
  };
  g_autoptr (NfltrStreamFilter) filter = nfltr_tunnel_kind_new_filter (kind, config, &conn);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) cause =
    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "connection refused");
  g_autoptr (GBytes) answer = NULL;
  g_autoptr (GBytes) refusal = NULL;
  const char *good = "GET / HTTP/1.1\r\nHost: myapp.nfltr.localhost\r\n\r\n";
  const char *wrong = "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n";
  g_autofree char *text = NULL;

  g_assert_cmpstr (nfltr_tunnel_kind_get_label (kind), ==, "HTTP");
  g_assert_nonnull (alpn);
  g_assert_cmpstr (alpn[0], ==, "h2");
  g_assert_cmpstr (alpn[1], ==, "http/1.1");
  g_assert_null (alpn[2]);
  g_assert_true (nfltr_tunnel_kind_start (kind, config, &error));
  g_assert_no_error (error);
  nfltr_tunnel_kind_stop (kind, config);

  /* The filter is the rewriter: headers added to a good request, a wrong Host refused. */
  g_assert_true (NFLTR_IS_STREAM_FILTER (filter));
  g_assert_cmpint (nfltr_stream_filter_feed (filter, (const guint8 *) good, strlen (good), out), ==,
                   NFLTR_STREAM_FILTER_CONTINUE);
  g_byte_array_append (out, (const guint8 *) "", 1);
  g_assert_nonnull (strstr ((const char *) out->data, "X-Forwarded-For: 203.0.113.7\r\n"));
  g_assert_true (nfltr_stream_filter_has_forwarded (filter));
  g_assert_false (nfltr_stream_filter_is_passthrough (filter));
  g_assert_cmpint (nfltr_stream_filter_feed (filter, (const guint8 *) wrong, strlen (wrong), out), ==,
                   NFLTR_STREAM_FILTER_REFUSE);
  refusal = nfltr_stream_filter_get_refusal (filter);
  g_assert_nonnull (refusal);
  g_assert_true (g_str_has_prefix (g_bytes_get_data (refusal, NULL), "HTTP/1.1 421 "));

  answer = nfltr_tunnel_kind_unreachable_response (kind, config, cause);
  g_assert_nonnull (answer);
  text = g_strndup (g_bytes_get_data (answer, NULL), g_bytes_get_size (answer));
  g_assert_true (g_str_has_prefix (text, "HTTP/1.1 502 "));
  g_assert_nonnull (strstr (text, "the tunnel's local server is unreachable (connection refused)"));
}

static void
test_tcp_hooks (void)
{
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup ("tcp");
  g_autoptr (GVariant) config = parse_ok (kind, "127.0.0.1:3000");
  NfltrKindConn conn = {
    .client_addr = "203.0.113.7:50123", .sni = "db.nfltr.localhost", .cancel_fd = -1, .timeout_ms = 1000
  };
  g_autoptr (GError) cause =
    g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, "connection refused");
  g_autoptr (NfltrStreamFilter) filter = NULL;
  g_autoptr (GBytes) answer = NULL;

  g_assert_cmpstr (nfltr_tunnel_kind_get_label (kind), ==, "TCP");
  /* Raw bytes: no ALPN, no filter, and a silent close when the server is down. */
  g_assert_null (nfltr_tunnel_kind_get_alpn (kind));
  filter = nfltr_tunnel_kind_new_filter (kind, config, &conn);
  g_assert_null (filter);
  answer = nfltr_tunnel_kind_unreachable_response (kind, config, cause);
  g_assert_null (answer);
}

/* The backend hook of both kinds is a TCP connect to the target, handed over non-blocking. */
static void
test_connect (gconstpointer data)
{
  NfltrTunnelKind *kind = nfltr_tunnel_kind_lookup (data);
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GVariant) config = NULL;
  g_autoptr (GVariant) closed = NULL;
  g_autoptr (GSocketConnection) accepted = NULL;
  g_autofree char *target = NULL;
  NfltrKindConn conn = {
    .client_addr = "203.0.113.7:50123", .sni = "x.nfltr.localhost", .cancel_fd = -1, .timeout_ms = 2000
  };
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  int fd;

  g_assert_no_error (error);
  target = g_strdup_printf ("127.0.0.1:%u", port);
  config = parse_ok (kind, target);
  fd = nfltr_tunnel_kind_connect (kind, config, &conn, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (fcntl (fd, F_GETFL) & O_NONBLOCK);
  g_assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);
  accepted = g_socket_listener_accept (listener, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (fd, "x", 1), ==, 1);
  close (fd);

  /* Nobody listens on the listener's port once it is closed. */
  g_socket_listener_close (listener);
  closed = parse_ok (kind, target);
  fd = nfltr_tunnel_kind_connect (kind, closed, &conn, &error);
  g_assert_cmpint (fd, ==, -1);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "127.0.0.1"));
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/kinds/registry", test_registry);
  g_test_add_data_func ("/kinds/http/parse", "http", test_parse);
  g_test_add_data_func ("/kinds/tcp/parse", "tcp", test_parse);
  g_test_add_func ("/kinds/http/hooks", test_http_hooks);
  g_test_add_func ("/kinds/tcp/hooks", test_tcp_hooks);
  g_test_add_data_func ("/kinds/http/connect", "http", test_connect);
  g_test_add_data_func ("/kinds/tcp/connect", "tcp", test_connect);
  return g_test_run ();
}
