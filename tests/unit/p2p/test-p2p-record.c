/* test-p2p-record.c — AES-256-CTR + HMAC-SHA-256 records (docs/protocol.md §9.4).
 * The known answers were computed independently with python3-cryptography's AES-CTR and
 * Python's hmac module from the layout in the protocol text, not with this code. */
#include "nfltr-p2p-record.h"
#include "nfltr-p2p-error.h"
#include "p2p-test-util.h"

static const char * const kat[] = {
  /* seq 0, "hello, peer" */
  "00000000000000000000000b9af56cda4565bfa0cc96e8f49bbf766ecb7cd14eeafce27fc528feaf00074caf5b010d83a7b1d45d9c"
  "5367",
  /* seq 1, empty */
  "00000000000000010000000026d9bcc4ab2c6a4db2cf6bd301e07a0035611541234a2c63e17078477d3bdfa6",
  /* seq 2, 40 zero bytes: the counter crosses into the block's second and third counter */
  "000000000000000200000028b96b47bb7c941b58e4dcfb800d4fcc861e1d4a454fe9e78bcb2dea54a02142db6493d48994d20f061b"
  "b1c98ab11f48507908aea36c202f40605e6acef38e749ae3b051c1b08bdf8b",
};

static void
keys (guint8 enc[32], guint8 mac[32])
{
  for (int i = 0; i < 32; i++)
    {
      enc[i] = i;
      mac[i] = 32 + i;
    }
}

static void
init_pair (NfltrP2pRecordDir *tx,
           NfltrP2pRecordDir *rx)
{
  guint8 enc[32], mac[32];

  keys (enc, mac);
  nfltr_p2p_record_dir_init (tx, enc, mac);
  nfltr_p2p_record_dir_init (rx, enc, mac);
}

static GByteArray *
seal_three (NfltrP2pRecordDir *tx)
{
  GByteArray *wire = g_byte_array_new ();
  guint8 zeros[40] = { 0 };

  g_assert_true (nfltr_p2p_record_seal (tx, (const guint8 *) "hello, peer", 11, wire, NULL));
  g_assert_true (nfltr_p2p_record_seal (tx, NULL, 0, wire, NULL));
  g_assert_true (nfltr_p2p_record_seal (tx, zeros, sizeof zeros, wire, NULL));
  return wire;
}

static void
test_kat (void)
{
  NfltrP2pRecordDir tx, rx;
  g_autoptr(GByteArray) wire = NULL;
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  g_autoptr(GString) want = g_string_new (NULL);
  gsize off = 0;

  init_pair (&tx, &rx);
  wire = seal_three (&tx);
  for (gsize i = 0; i < G_N_ELEMENTS (kat); i++)
    g_string_append (want, kat[i]);
  p2p_assert_hex (wire->data, wire->len, want->str);

  for (int i = 0; i < 3; i++)
    {
      gssize size = nfltr_p2p_record_size (&rx, wire->data + off, wire->len - off, NULL);

      g_assert_cmpint (size, ==, strlen (kat[i]) / 2);
      g_assert_true (nfltr_p2p_record_open (&rx, wire->data + off, size, plain, NULL));
      if (i == 0)
        g_assert_cmpmem (plain->data, plain->len, "hello, peer", 11);
      off += size;
    }
  g_assert_cmpuint (plain->len, ==, 40);
  nfltr_p2p_record_dir_clear (&tx);
  nfltr_p2p_record_dir_clear (&rx);
}

/* Flipping any one bit of a record, header or body or tag, ends the session with a
 * message that names the frame; every later call says the session is closed. */
static void
test_bit_flip (void)
{
  gsize record_len = strlen (kat[0]) / 2;

  for (gsize bit = 0; bit < record_len * 8; bit++)
    {
      NfltrP2pRecordDir tx, rx;
      g_autoptr(GByteArray) wire = NULL;
      g_autoptr(GByteArray) plain = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) later = NULL;

      init_pair (&tx, &rx);
      wire = seal_three (&tx);
      wire->data[bit / 8] ^= 1 << (bit % 8);
      g_assert_false (nfltr_p2p_record_open (&rx, wire->data, record_len, plain, &error));
      g_assert_nonnull (error);
      if (bit / 8 >= 8 && bit / 8 < 12)
        {
          /* the length: the record no longer has the size it says */
          g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
        }
      else
        {
          g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_TAG);
          g_assert_nonnull (strstr (error->message, "failed authentication (bad tag)"));
        }
      g_assert_cmpuint (plain->len, ==, 0);
      g_assert_false (nfltr_p2p_record_open (&rx, wire->data + record_len, strlen (kat[1]) / 2, plain, &later));
      g_assert_error (later, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_CLOSED);
      nfltr_p2p_record_dir_clear (&tx);
      nfltr_p2p_record_dir_clear (&rx);
    }
}

static void
test_dropped_and_replayed (void)
{
  NfltrP2pRecordDir tx, rx;
  g_autoptr(GByteArray) wire = NULL;
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  gsize l0 = strlen (kat[0]) / 2, l1 = strlen (kat[1]) / 2, l2 = strlen (kat[2]) / 2;

  /* frame 1 never arrives */
  init_pair (&tx, &rx);
  wire = seal_three (&tx);
  g_assert_true (nfltr_p2p_record_open (&rx, wire->data, l0, plain, NULL));
  g_assert_false (nfltr_p2p_record_open (&rx, wire->data + l0 + l1, l2, plain, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_SEQUENCE);
  g_assert_cmpstr (error->message, ==, "frame 1 is missing (frame 2 came next): the session is closed");
  nfltr_p2p_record_dir_clear (&tx);
  nfltr_p2p_record_dir_clear (&rx);
  g_clear_error (&error);
  g_clear_pointer (&wire, g_byte_array_unref);

  /* frame 0 played again */
  init_pair (&tx, &rx);
  wire = seal_three (&tx);
  g_assert_true (nfltr_p2p_record_open (&rx, wire->data, l0, plain, NULL));
  g_assert_false (nfltr_p2p_record_open (&rx, wire->data, l0, plain, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_SEQUENCE);
  g_assert_cmpstr (error->message, ==, "frame 0 arrived again after frame 0 (replayed or reordered): the session is closed");
  nfltr_p2p_record_dir_clear (&tx);
  nfltr_p2p_record_dir_clear (&rx);
}

/* A record sealed under the other direction's keys (a reflected record) does not open. */
static void
test_other_key (void)
{
  NfltrP2pRecordDir tx, rx;
  guint8 enc[32], mac[32];
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  g_autoptr(GByteArray) plain = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  keys (enc, mac);
  nfltr_p2p_record_dir_init (&tx, enc, mac);
  mac[0] ^= 1;
  nfltr_p2p_record_dir_init (&rx, enc, mac);
  g_assert_true (nfltr_p2p_record_seal (&tx, (const guint8 *) "x", 1, wire, NULL));
  g_assert_false (nfltr_p2p_record_open (&rx, wire->data, wire->len, plain, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_BAD_TAG);
  nfltr_p2p_record_dir_clear (&tx);
  nfltr_p2p_record_dir_clear (&rx);
}

static void
test_limits (void)
{
  NfltrP2pRecordDir tx, rx;
  g_autofree guint8 *big = g_malloc0 (NFLTR_P2P_RECORD_MAX_PLAINTEXT + 1);
  g_autoptr(GByteArray) wire = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  guint8 header[NFLTR_P2P_RECORD_HEADER] = { 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 0, 1 };

  init_pair (&tx, &rx);
  g_assert_false (nfltr_p2p_record_seal (&tx, big, NFLTR_P2P_RECORD_MAX_PLAINTEXT + 1, wire, &error));
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_LIMIT);
  g_clear_error (&error);
  g_assert_true (nfltr_p2p_record_seal (&tx, big, NFLTR_P2P_RECORD_MAX_PLAINTEXT, wire, NULL));
  g_assert_cmpint (nfltr_p2p_record_size (&rx, wire->data, 5, NULL), ==, 0);
  g_assert_cmpint (nfltr_p2p_record_size (&rx, wire->data, wire->len, NULL), ==, wire->len);
  /* 65537 bytes claimed */
  g_assert_cmpint (nfltr_p2p_record_size (&rx, header, sizeof header, &error), ==, -1);
  g_assert_error (error, NFLTR_P2P_ERROR, NFLTR_P2P_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "frame 7 claims 65537 bytes"));
  nfltr_p2p_record_dir_clear (&tx);
  nfltr_p2p_record_dir_clear (&rx);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/p2p/record/kat", test_kat);
  g_test_add_func ("/p2p/record/bit-flip", test_bit_flip);
  g_test_add_func ("/p2p/record/dropped-and-replayed", test_dropped_and_replayed);
  g_test_add_func ("/p2p/record/other-key", test_other_key);
  g_test_add_func ("/p2p/record/limits", test_limits);
  return g_test_run ();
}
