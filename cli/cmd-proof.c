/* cmd-proof.c — `nfltr proof NAME [-o FILE]` fetches a tunnel's signed proof bundle from the
 * relay; `nfltr verify BUNDLE [--fingerprint F] [--relay-key K]` checks one offline
 * (docs/protocol.md §10, docs/security.md "Proof"). */
#define G_LOG_DOMAIN "nfltr-cli"

#include "cli-args.h"
#include "cli-client.h"
#include "cli-commands.h"
#include "cli-output.h"
#include "nfltr-cert.h"
#include "nfltr-loopback-address.h"
#include "nfltr-proof-bundle.h"
#include "nfltr-resolve.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

/* `nfltr verify`'s exit statuses (docs/cli.md "nfltr verify"), besides 0, 1 and 2. */
#define VERIFY_EXIT_MALFORMED     3
#define VERIFY_EXIT_BAD_SIGNATURE 4
#define VERIFY_EXIT_OTHER_KEY     5
#define VERIFY_EXIT_FINGERPRINT   6
#define VERIFY_EXIT_FLAGGED       7
#define VERIFY_EXIT_NOT_VERIFIED  8
#define VERIFY_EXIT_NO_KEY        9

/* A bundle is a few KiB; anything past this is not one. */
#define PROOF_MAX_RESPONSE (1024 * 1024)

static void
say (const char *text)
{
  /* Composed first, then written: see the preamble on -Werror=format-overflow. */
  fputs (text, stdout);
}

static const char *
member_string (JsonObject *object, const char *name)
{
  JsonNode *node = object ? json_object_get_member (object, name) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* The pinned key, asked of the service; NULL (and no error) when none is pinned. */
static char *
pinned_signing_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = cli_client_connect (&error);
  const char *key;

  if (client == NULL)
    return NULL;
  key = nfltr_dbus_manager_get_relay_signing_key (cli_client_get_manager (client));
  return key != NULL && *key != '\0' ? g_strdup (key) : NULL;
}

/* Checks data; prints what it proves; returns the exit status. */
static int
verify_bundle (const guint8 *data, gsize len, const char *relay_key, const char *fingerprint)
{
  guint8 key[NFLTR_PROOF_PUBLIC_KEY_SIZE];
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) proof = NULL;
  g_autofree char *named_key = NULL;
  g_autofree char *line = NULL;
  JsonObject *object;
  const char *result, *observed;
  gboolean flagged;

  if (relay_key != NULL && !nfltr_proof_key_parse (relay_key, key))
    return cli_fail (CLI_EXIT_USAGE, _ ("--relay-key takes ed25519:<base64 of 32 bytes>, not “%s”"), relay_key);
  proof = nfltr_proof_bundle_verify (data, len, relay_key ? key : NULL, &named_key, &error);
  if (proof == NULL)
    {
      if (g_error_matches (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_OTHER_KEY))
        return cli_fail (VERIFY_EXIT_OTHER_KEY, _ ("FAILED: the bundle is signed by another relay key (%s), "
                                                  "not the expected %s"), named_key, relay_key);
      if (g_error_matches (error, NFLTR_PROOF_ERROR, NFLTR_PROOF_ERROR_BAD_SIGNATURE))
        return cli_fail (VERIFY_EXIT_BAD_SIGNATURE, _ ("FAILED: bad signature: the bundle was changed after "
                                                      "the relay signed it"));
      return cli_fail (VERIFY_EXIT_MALFORMED, _ ("FAILED: malformed bundle: %s"), error->message);
    }
  object = json_node_get_object (proof);
  result = member_string (object, "result");
  observed = member_string (object, "observed-fingerprint");
  flagged = json_object_has_member (object, "flagged") && json_object_get_boolean_member (object, "flagged");

  if (relay_key != NULL)
    line = g_strdup_printf (_ ("Signature: valid, by the relay key %s.\n"), relay_key);
  else
    line = g_strdup_printf (_ ("Signature: valid for the key inside the bundle (%s), which you have not "
                               "compared with anything: no key is pinned and --relay-key was not given.\n"),
                            named_key);
  say (line);
  g_free (line);
  line = g_strdup_printf (_ ("Tunnel: %s, mode %s, relay check: %s, last checked %s.\n"),
                          member_string (object, "host") ? member_string (object, "host") : "?",
                          member_string (object, "mode") ? member_string (object, "mode") : "?",
                          result ? result : "?",
                          member_string (object, "checked") ? member_string (object, "checked") : _ ("never"));
  say (line);
  g_free (line);
  line = g_strdup_printf (_ ("Declared fingerprint: %s\nObserved fingerprint: %s\n"),
                          member_string (object, "declared-fingerprint") ? member_string (object, "declared-fingerprint") : "-",
                          observed ? observed : "-");
  say (line);
  say (_ ("It proves: this relay signed that, at the time of its last check, it connected through the "
          "tunnel and was served the observed certificate.\n"
          "It does not prove: that the relay told the truth (a relay can sign a lie about itself), nor that "
          "your own client is talking to the agent: compare the certificate your client is served with "
          "the observed fingerprint.\n"));

  if (relay_key == NULL)
    return cli_fail (VERIFY_EXIT_NO_KEY, _ ("not verified: no relay key to check the signature against "
                                            "(log in, or pass --relay-key)"));
  if (flagged || g_strcmp0 (result, "mismatch") == 0)
    return cli_fail (VERIFY_EXIT_FLAGGED, _ ("FAILED: tunnel flagged: the relay was served a certificate "
                                            "other than the one the agent declared"));
  if (fingerprint != NULL)
    {
      guint8 want[NFLTR_FINGERPRINT_LEN], seen[NFLTR_FINGERPRINT_LEN];

      if (!nfltr_fingerprint_parse (fingerprint, want))
        return cli_fail (CLI_EXIT_USAGE, _ ("--fingerprint takes sha256:<64 hex digits>, not “%s”"), fingerprint);
      if (observed == NULL || !nfltr_fingerprint_parse (observed, seen) || memcmp (want, seen, sizeof want) != 0)
        return cli_fail (VERIFY_EXIT_FINGERPRINT, _ ("FAILED: fingerprint mismatch: the relay observed %s, "
                                                    "not %s"), observed ? observed : "-", fingerprint);
    }
  if (g_strcmp0 (result, "verified") != 0)
    return cli_fail (VERIFY_EXIT_NOT_VERIFIED, _ ("not verified: the relay's check says “%s”"), result ? result : "?");
  say (_ ("OK: the signature holds and the relay's check found the declared certificate.\n"));
  return CLI_EXIT_OK;
}

int
cli_cmd_verify (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("BUNDLE"));
  g_autofree char *fingerprint = NULL;
  g_autofree char *relay_key = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const GOptionEntry entries[] = {
    { "fingerprint", 0, 0, G_OPTION_ARG_STRING, &fingerprint,
      N_ ("The certificate fingerprint your client was served (sha256:HEX)"), "FINGERPRINT" },
    { "relay-key", 0, 0, G_OPTION_ARG_STRING, &relay_key,
      N_ ("The relay's signing key (default: the one pinned at login)"), "KEY" },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Checks a proof bundle offline. Exit status: 0 verified, 3 malformed, "
                                            "4 bad signature, 5 another relay key,\n6 fingerprint mismatch, "
                                            "7 tunnel flagged, 8 not verified, 9 no relay key to check against."));
  if (!cli_parse_command_line (context, "verify", &argc, &argv, 1, 1,
                               _ ("the bundle file to check (e.g. nfltr verify myapp.proof.json)")))
    return CLI_EXIT_USAGE;
  if (!g_file_get_contents (argv[1], &contents, &len, &error))
    return cli_fail (CLI_EXIT_FAILURE, "%s", error->message);
  if (relay_key == NULL)
    relay_key = pinned_signing_key ();
  return verify_bundle ((const guint8 *) contents, len, relay_key, fingerprint);
}

static gboolean
accept_pinned_cb (GTlsConnection *conn, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer user_data)
{
  const char *pinned = user_data;
  g_autoptr(GByteArray) der = NULL;
  guint8 want[NFLTR_FINGERPRINT_LEN], seen[NFLTR_FINGERPRINT_LEN];

  g_object_get (cert, "certificate", &der, NULL);
  if (der == NULL || !nfltr_fingerprint_parse (pinned, want))
    return FALSE;
  nfltr_fingerprint_of_der (der->data, der->len, seen);
  return memcmp (want, seen, sizeof want) == 0;
}

/* GET path from the relay, over TLS pinned to its certificate; the body of a 200, else NULL
 * with the relay's words. Blocking: the CLI has nothing else to do meanwhile. */
static GBytes *
relay_get (const char *address, const char *domain, const char *pinned, const char *path, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = 0;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnectable) where = NULL;
  g_autoptr(GSocketConnectable) identity = NULL;
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GIOStream) tls = NULL;
  g_autoptr(GByteArray) response = g_byte_array_new ();
  g_autofree char *request = NULL;
  guint8 buffer[16384];
  const guint8 *end;
  gssize n;
  guint status = 0;

  if (!nfltr_parse_host_port (address, 8443, FALSE, &host, &port, error))
    return NULL;
  where = nfltr_tls_connectable_new (host, port);
  identity = g_network_address_new (domain && *domain ? domain : host, port);
  g_socket_client_set_timeout (client, 30);
  conn = g_socket_client_connect (client, where, NULL, error);
  if (conn == NULL)
    return NULL;
  tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()), NULL, error,
                        "base-io-stream", conn, "server-identity", identity, "database", NULL, NULL);
  if (tls == NULL)
    return NULL;
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_pinned_cb), (gpointer) pinned);
  if (!g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, error))
    {
      g_prefix_error (error, _ ("relay %s (pinned %s): "), address, pinned);
      return NULL;
    }
  request = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
                             path, domain && *domain ? domain : host);
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (tls), request, strlen (request), NULL, NULL, error))
    return NULL;
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (tls), buffer, sizeof buffer, NULL, NULL)) > 0)
    {
      g_byte_array_append (response, buffer, n);
      if (response->len > PROOF_MAX_RESPONSE)
        break;
    }
  g_io_stream_close (tls, NULL, NULL);
  end = response->len >= 4 ? memmem (response->data, response->len, "\r\n\r\n", 4) : NULL;
  if (end == NULL || sscanf ((const char *) response->data, "HTTP/1.1 %u", &status) != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, _ ("the relay's answer is not HTTP"));
      return NULL;
    }
  end += 4;
  if (status != 200)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      const char *message = NULL;

      if (json_parser_load_from_data (parser, (const char *) end, response->data + response->len - end, NULL) &&
          JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        message = member_string (json_node_get_object (json_parser_get_root (parser)), "error");
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _ ("the relay answered %u: %s"), status,
                   message ? message : "");
      return NULL;
    }
  /* Connection: close and no chunking from libsoup for a body it was given whole. */
  return g_bytes_new (end, response->data + response->len - end);
}

int
cli_cmd_proof (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (_ ("NAME"));
  g_autofree char *output = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(CliClient) client = NULL;
  g_autoptr(GBytes) bundle = NULL;
  g_autofree char *path = NULL;
  g_autofree char *saved = NULL;
  NfltrDbusManager *m;
  const char *address, *pinned, *key;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, N_ ("Where to save the bundle (default NAME.proof.json)"),
      "FILE" },
    { NULL }
  };

  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (context, _ ("Fetches the relay's signed proof bundle of a tunnel, saves it and "
                                            "checks it\nagainst the relay key pinned at login (see nfltr verify)."));
  if (!cli_parse_command_line (context, "proof", &argc, &argv, 1, 1,
                               _ ("the tunnel's name (e.g. nfltr proof myapp)")))
    return CLI_EXIT_USAGE;
  if (!cli_check_name (argv[1], &error))
    return cli_fail (CLI_EXIT_USAGE, "%s", error->message);

  client = cli_client_connect (&error);
  if (client == NULL)
    {
      cli_print_error (error);
      return CLI_EXIT_FAILURE;
    }
  m = cli_client_get_manager (client);
  address = nfltr_dbus_manager_get_relay_address (m);
  pinned = nfltr_dbus_manager_get_relay_fingerprint (m);
  key = nfltr_dbus_manager_get_relay_signing_key (m);
  if (address == NULL || *address == '\0')
    return cli_fail (CLI_EXIT_FAILURE, _ ("not logged in to a relay (nfltr login)"));
  path = g_strdup_printf ("/api/v1/proof/%s/bundle", argv[1]);
  bundle = relay_get (address, nfltr_dbus_manager_get_relay_domain (m), pinned, path, &error);
  if (bundle == NULL)
    return cli_fail (CLI_EXIT_FAILURE, "%s", error->message);
  if (output == NULL)
    output = g_strdup_printf ("%s.proof.json", argv[1]);
  if (!g_file_set_contents (output, g_bytes_get_data (bundle, NULL), g_bytes_get_size (bundle), &error))
    return cli_fail (CLI_EXIT_FAILURE, "%s", error->message);
  saved = g_strdup_printf (_ ("Saved the proof bundle of “%s” to %s.\n"), argv[1], output);
  say (saved);
  return verify_bundle (g_bytes_get_data (bundle, NULL), g_bytes_get_size (bundle),
                        key != NULL && *key != '\0' ? key : NULL, NULL);
}
