/* fuzz-socks5.c — the SOCKS5 server's parsers (RFC 1928 greeting, request and UDP header;
 * RFC 1929 username/password), fed as the server feeds them: growing prefixes of what a client
 * sent. A prefix of a complete message is never BAD, OK never consumes more than it was given,
 * and a BAD request names a reply code RFC 1928 §6 defines. */
#include "nfltr-socks5-proto.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  NfltrSocks5Request request;
  NfltrSocks5Reply reply;
  NfltrSocks5Parse full, part;
  char user[256], pass[256];
  guint8 methods;
  gsize consumed = 0, offset = 0;

  full = nfltr_socks5_parse_greeting (data, size, &consumed, &methods);
  if (full == NFLTR_SOCKS5_PARSE_OK)
    {
      g_assert (consumed <= size);
      for (gsize i = 0; i < consumed; i++)
        {
          part = nfltr_socks5_parse_greeting (data, i, &offset, &methods);
          g_assert (part == NFLTR_SOCKS5_PARSE_NEED_MORE);
        }
    }

  full = nfltr_socks5_parse_userpass (data, size, &consumed, user, pass);
  if (full == NFLTR_SOCKS5_PARSE_OK)
    {
      g_assert (consumed <= size);
      g_assert (strlen (user) > 0 && strlen (user) <= 255 && strlen (pass) <= 255);
      for (gsize i = 0; i < consumed; i++)
        g_assert (nfltr_socks5_parse_userpass (data, i, &offset, user, pass) == NFLTR_SOCKS5_PARSE_NEED_MORE);
    }

  full = nfltr_socks5_parse_request (data, size, &consumed, &request, &reply);
  if (full == NFLTR_SOCKS5_PARSE_OK)
    {
      g_assert (consumed <= size);
      g_assert (request.command == NFLTR_SOCKS5_CMD_CONNECT || request.command == NFLTR_SOCKS5_CMD_UDP_ASSOCIATE);
      if (request.atyp == NFLTR_SOCKS5_ATYP_DOMAIN)
        g_assert (strlen (request.host) > 0 && strlen (request.host) <= 255);
      for (gsize i = 0; i < consumed; i++)
        g_assert (nfltr_socks5_parse_request (data, i, &offset, &request, &reply) == NFLTR_SOCKS5_PARSE_NEED_MORE);
    }
  else if (full == NFLTR_SOCKS5_PARSE_BAD)
    g_assert (reply == 0 || (reply >= NFLTR_SOCKS5_REP_GENERAL_FAILURE && reply <= NFLTR_SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED));

  if (nfltr_socks5_parse_udp (data, size, &request, &offset) == NFLTR_SOCKS5_PARSE_OK)
    g_assert (offset <= size);
  return 0;
}
