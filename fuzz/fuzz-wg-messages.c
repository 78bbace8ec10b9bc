/* fuzz-wg-messages.c — the WireGuard message parsers (docs/wireguard.md): the datagram
 * classifier, each handshake message's consumer behind it, the cookie reply, the inner IP
 * packet's length and addresses, and the allowed-IP prefix syntax. Keys are fixed, so a seed
 * made with them (fuzz/corpus/wg-messages) reaches past the MACs and the AEADs. */
#include "nfltr-wg-allowedips.h"
#include "nfltr-wg-cookie.h"
#include "nfltr-wg-noise.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fixed_key (guint8 key[32], guint mul, guint add)
{
  for (guint i = 0; i < 32; i++)
    key[i] = (guint8) (i * mul + add);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  NfltrWgIdentity initiator, responder;
  NfltrWgHandshake scratch, hs_r, hs_i;
  NfltrWgCookieChecker checker;
  NfltrWgCookieMaker maker;
  NfltrWgMessageInitiation init;
  guint8 key[32], remote_static[32], secret[32] = { 0 }, ephemeral[32], timestamp[12] = { 0x40 };
  guint8 addr[16];
  guint family;
  gsize inner;

  /* The keys of tests/unit/wg/gen-wg-vectors.py. */
  fixed_key (key, 7, 1);
  nfltr_wg_identity_init (&initiator, key);
  fixed_key (key, 11, 3);
  nfltr_wg_identity_init (&responder, key);
  fixed_key (ephemeral, 13, 5);
  nfltr_wg_cookie_checker_init (&checker, responder.public_key);
  nfltr_wg_cookie_maker_init (&maker, responder.public_key);

  switch (nfltr_wg_message_classify (data, size))
    {
      case NFLTR_WG_MESSAGE_HANDSHAKE_INITIATION:
        {
          NfltrWgMessageInitiation msg;

          memcpy (&msg, data, sizeof msg);
          nfltr_wg_cookie_check (&checker, data, size, (const guint8 *) "\xc0\x00\x02\x01\xca\x6c", 6, 1,
                                 secret);
          if (nfltr_wg_handshake_consume_initiation_begin (&responder, &msg, &scratch, remote_static))
            {
              nfltr_wg_handshake_init (&hs_r, &responder, remote_static, NULL);
              if (nfltr_wg_handshake_consume_initiation_finish (&hs_r, &scratch, &msg, 1))
                {
                  NfltrWgMessageResponse resp;
                  NfltrWgSessionKeys keys;

                  g_assert_true (nfltr_wg_handshake_create_response (&hs_r, &resp, ephemeral, 1));
                  g_assert_true (nfltr_wg_handshake_derive_keys (&hs_r, &keys));
                }
            }
          break;
        }
      case NFLTR_WG_MESSAGE_HANDSHAKE_RESPONSE:
        {
          NfltrWgMessageResponse msg;

          memcpy (&msg, data, sizeof msg);
          nfltr_wg_handshake_init (&hs_i, &initiator, responder.public_key, NULL);
          g_assert_true (
            nfltr_wg_handshake_create_initiation (&hs_i, &initiator, &init, ephemeral, timestamp, 1));
          if (nfltr_wg_handshake_consume_response (&hs_i, &initiator, &msg))
            {
              NfltrWgSessionKeys keys;

              g_assert_true (nfltr_wg_handshake_derive_keys (&hs_i, &keys));
            }
          break;
        }
      case NFLTR_WG_MESSAGE_HANDSHAKE_COOKIE:
        {
          NfltrWgMessageCookie msg;

          memcpy (&msg, data, sizeof msg);
          nfltr_wg_handshake_init (&hs_i, &initiator, responder.public_key, NULL);
          g_assert_true (
            nfltr_wg_handshake_create_initiation (&hs_i, &initiator, &init, ephemeral, timestamp, 1));
          nfltr_wg_cookie_add_macs (&maker, (guint8 *) &init, sizeof init, 1);
          nfltr_wg_cookie_consume_reply (&maker, &msg, 2);
          break;
        }
      case NFLTR_WG_MESSAGE_DATA:
      case NFLTR_WG_MESSAGE_INVALID:
      default: break;
    }

  /* The same bytes as a decrypted inner packet. */
  inner = nfltr_wg_inner_packet_len (data, size);
  g_assert_cmpuint (inner, <=, size);
  if (inner > 0)
    {
      g_assert_true (nfltr_wg_inner_address (data, inner, TRUE, &family, addr));
      g_assert_true (family == 4 || family == 6);
    }

  /* And as the text of an allowed-IP prefix. */
  if (size < 64)
    {
      g_autofree char *text = g_strndup ((const char *) data, size);
      NfltrWgAllowedIp prefix;

      if (nfltr_wg_allowed_ip_parse (text, &prefix))
        g_assert_cmpuint (prefix.cidr, <=, prefix.family == 4 ? 32 : 128);
    }
  return 0;
}
