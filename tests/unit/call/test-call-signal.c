/* test-call-signal — the CALL stream's messages (docs/protocol.md §14.2): what parses, what
 * is refused and why, and that what we build parses back to the same message. */
#include "nfltr-call-signal.h"
#include "nfltr-p2p-error.h"

#include <string.h>

static void
assert_refused (const char *text, const char *why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrCallSignal) s = nfltr_call_signal_parse (text, -1, &error);

  g_assert_null (s);
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
  if (strstr (error->message, why) == NULL)
    g_error ("%s: expected \"%s\" in \"%s\"", text, why, error->message);
}

static void
test_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(NfltrCallSignal) ring = nfltr_call_signal_parse ("{\"t\":\"ring\",\"video\":true}", -1, &error);
  g_autoptr(NfltrCallSignal) offer = nfltr_call_signal_parse ("{\"t\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 0 IN IP4 0.0.0.0\\r\\n\"}", -1, &error);
  g_autoptr(NfltrCallSignal) ice = nfltr_call_signal_parse (
    "{\"t\":\"ice\",\"m\":1,\"c\":\"candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host\"}", -1, &error);
  g_autoptr(NfltrCallSignal) bye = nfltr_call_signal_parse ("{\"t\":\"bye\",\"reason\":\"hung up\"}", -1, &error);

  g_assert_no_error (error);
  g_assert_cmpint (ring->type, ==, NFLTR_CALL_SIGNAL_RING);
  g_assert_true (ring->video);
  g_assert_cmpint (offer->type, ==, NFLTR_CALL_SIGNAL_OFFER);
  g_assert_true (g_str_has_prefix (offer->sdp, "v=0\r\n"));
  g_assert_cmpint (ice->type, ==, NFLTR_CALL_SIGNAL_ICE);
  g_assert_cmpuint (ice->mline, ==, 1);
  g_assert_cmpstr (ice->candidate, ==, "candidate:1 1 UDP 2015363327 127.0.0.1 40000 typ host");
  g_assert_cmpstr (bye->reason, ==, "hung up");
}

static void
test_refused (void)
{
  g_autofree char *long_sdp = NULL;
  g_autofree char *long_candidate = NULL;
  g_autofree char *text = NULL;
  NfltrCallSignal *parsed;

  assert_refused ("not json", "not JSON");
  assert_refused ("[1,2]", "not an object");
  assert_refused ("{\"t\":\"dance\"}", "no known type");
  assert_refused ("{\"t\":5}", "no known type");
  assert_refused ("{\"t\":\"offer\"}", "sdp");
  assert_refused ("{\"t\":\"offer\",\"sdp\":\"x=1\"}", "sdp");
  assert_refused ("{\"t\":\"answer\",\"sdp\":\"v=0\\u0001\"}", "sdp");
  assert_refused ("{\"t\":\"ice\",\"c\":\"candidate:1\"}", "m-line");
  assert_refused ("{\"t\":\"ice\",\"m\":-1,\"c\":\"candidate:1\"}", "m-line");
  assert_refused ("{\"t\":\"ice\",\"m\":16,\"c\":\"candidate:1\"}", "m-line");
  assert_refused ("{\"t\":\"ice\",\"m\":\"0\",\"c\":\"candidate:1\"}", "m-line");
  assert_refused ("{\"t\":\"ice\",\"m\":0,\"c\":\"a=candidate:1\"}", "candidate");
  assert_refused ("{\"t\":\"ice\",\"m\":0,\"c\":\"candidate:1\\r\\na=evil\"}", "candidate");
  assert_refused ("{\"t\":\"ring\",\"video\":\"yes\"}", "video");
  assert_refused ("{\"t\":\"bye\",\"reason\":7}", "reason");

  long_sdp = g_strnfill (NFLTR_CALL_SDP_MAX, 'a');
  memcpy (long_sdp, "v=0", 3);
  text = g_strdup_printf ("{\"t\":\"offer\",\"sdp\":\"%s\"}", long_sdp);
  parsed = nfltr_call_signal_parse (text, -1, NULL);
  g_assert_nonnull (parsed);
  nfltr_call_signal_free (parsed);
  g_free (text);
  text = g_strdup_printf ("{\"t\":\"offer\",\"sdp\":\"%sb\"}", long_sdp);
  assert_refused (text, "sdp");
  long_candidate = g_strnfill (NFLTR_CALL_CANDIDATE_MAX + 1, 'c');
  memcpy (long_candidate, "candidate:", 10);
  g_free (text);
  text = g_strdup_printf ("{\"t\":\"ice\",\"m\":0,\"c\":\"%s\"}", long_candidate);
  assert_refused (text, "candidate");
}

static void
test_round_trip (void)
{
  for (guint type = NFLTR_CALL_SIGNAL_RING; type <= NFLTR_CALL_SIGNAL_BYE; type++)
    {
      g_autoptr(NfltrCallSignal) s = nfltr_call_signal_new (type);
      g_autoptr(NfltrCallSignal) back = NULL;
      g_autofree char *text = NULL;
      g_autoptr(GError) error = NULL;

      s->video = TRUE;
      s->sdp = g_strdup ("v=0\r\ns=-\r\n");
      s->mline = 3;
      s->candidate = g_strdup ("candidate:2 1 UDP 1 10.0.0.1 9 typ srflx");
      s->reason = g_strdup ("busy");
      text = nfltr_call_signal_to_string (s);
      back = nfltr_call_signal_parse (text, -1, &error);
      g_assert_no_error (error);
      g_assert_cmpint (back->type, ==, type);
      g_assert_cmpstr (nfltr_call_signal_type_name (back->type), ==, nfltr_call_signal_type_name (type));
      if (type == NFLTR_CALL_SIGNAL_OFFER || type == NFLTR_CALL_SIGNAL_ANSWER)
        g_assert_cmpstr (back->sdp, ==, s->sdp);
      if (type == NFLTR_CALL_SIGNAL_ICE)
        {
          g_assert_cmpuint (back->mline, ==, 3);
          g_assert_cmpstr (back->candidate, ==, s->candidate);
        }
      if (type == NFLTR_CALL_SIGNAL_BYE || type == NFLTR_CALL_SIGNAL_DECLINE)
        g_assert_cmpstr (back->reason, ==, "busy");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/signal/parse", test_parse);
  g_test_add_func ("/call/signal/refused", test_refused);
  g_test_add_func ("/call/signal/round-trip", test_round_trip);
  return g_test_run ();
}
