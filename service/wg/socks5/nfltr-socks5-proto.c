/* nfltr-socks5-proto.c — see the header. */
#define G_LOG_DOMAIN "nfltr-socks5"

#include "nfltr-socks5-proto.h"

#include <string.h>

NfltrSocks5Parse
nfltr_socks5_parse_greeting (const guint8 *buf,
                             gsize len,
                             gsize *consumed,
                             guint8 *methods)
{
  guint8 n;

  if (len < 1)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  if (buf[0] != NFLTR_SOCKS5_VERSION)
    return NFLTR_SOCKS5_PARSE_BAD;
  if (len < 2)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  n = buf[1];
  if (n == 0)
    return NFLTR_SOCKS5_PARSE_BAD;
  if (len < 2 + (gsize) n)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  *methods = 0;
  for (guint i = 0; i < n; i++)
    if (buf[2 + i] < 8)
      *methods |= (guint8) (1u << buf[2 + i]);
  *consumed = 2 + (gsize) n;
  return NFLTR_SOCKS5_PARSE_OK;
}

NfltrSocks5Parse
nfltr_socks5_parse_userpass (const guint8 *buf,
                             gsize len,
                             gsize *consumed,
                             char user[256],
                             char pass[256])
{
  gsize ulen, plen;

  if (len < 1)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  if (buf[0] != NFLTR_SOCKS5_AUTH_VERSION)
    return NFLTR_SOCKS5_PARSE_BAD;
  if (len < 2)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  ulen = buf[1];
  if (len < 2 + ulen + 1)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  plen = buf[2 + ulen];
  if (len < 3 + ulen + plen)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  if (ulen == 0 || memchr (buf + 2, 0, ulen) != NULL || memchr (buf + 3 + ulen, 0, plen) != NULL)
    return NFLTR_SOCKS5_PARSE_BAD;
  memcpy (user, buf + 2, ulen);
  user[ulen] = '\0';
  memcpy (pass, buf + 3 + ulen, plen);
  pass[plen] = '\0';
  *consumed = 3 + ulen + plen;
  return NFLTR_SOCKS5_PARSE_OK;
}

/* ATYP DST.ADDR DST.PORT at buf; returns the bytes used, 0 for "need more", -1 for bad. */
static gssize
parse_address (const guint8 *buf,
               gsize len,
               NfltrSocks5Request *request,
               NfltrSocks5Reply *reply)
{
  gsize alen;

  if (len < 1)
    return 0;
  request->atyp = buf[0];
  switch (buf[0])
    {
      case NFLTR_SOCKS5_ATYP_IPV4:
        alen = 4;
        if (len < 1 + alen + 2)
          return 0;
        memcpy (request->addr, buf + 1, 4);
        break;
      case NFLTR_SOCKS5_ATYP_IPV6:
        alen = 16;
        if (len < 1 + alen + 2)
          return 0;
        memcpy (request->addr, buf + 1, 16);
        break;
      case NFLTR_SOCKS5_ATYP_DOMAIN:
        if (len < 2)
          return 0;
        alen = 1 + (gsize) buf[1];
        if (len < 1 + alen + 2)
          return 0;
        if (buf[1] == 0 || memchr (buf + 2, 0, buf[1]) != NULL)
          {
            *reply = NFLTR_SOCKS5_REP_HOST_UNREACHABLE;
            return -1;
          }
        memcpy (request->host, buf + 2, buf[1]);
        request->host[buf[1]] = '\0';
        break;
      default: *reply = NFLTR_SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED; return -1;
    }
  request->port = (guint16) (buf[1 + alen] << 8 | buf[2 + alen]);
  return (gssize) (1 + alen + 2);
}

NfltrSocks5Parse
nfltr_socks5_parse_request (const guint8 *buf, gsize len, gsize *consumed, NfltrSocks5Request *request,
                            NfltrSocks5Reply *reply)
{
  gssize n;

  memset (request, 0, sizeof *request);
  *reply = NFLTR_SOCKS5_REP_GENERAL_FAILURE;
  if (len < 1)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  if (buf[0] != NFLTR_SOCKS5_VERSION)
    {
      *reply = 0;
      return NFLTR_SOCKS5_PARSE_BAD;
    }
  if (len < 4)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  request->command = buf[1];
  if (buf[1] != NFLTR_SOCKS5_CMD_CONNECT && buf[1] != NFLTR_SOCKS5_CMD_UDP_ASSOCIATE)
    {
      *reply = NFLTR_SOCKS5_REP_COMMAND_NOT_SUPPORTED;
      return NFLTR_SOCKS5_PARSE_BAD;
    }
  n = parse_address (buf + 3, len - 3, request, reply);
  if (n < 0)
    return NFLTR_SOCKS5_PARSE_BAD;
  if (n == 0)
    return NFLTR_SOCKS5_PARSE_NEED_MORE;
  *consumed = 3 + (gsize) n;
  return NFLTR_SOCKS5_PARSE_OK;
}

NfltrSocks5Parse
nfltr_socks5_parse_udp (const guint8 *buf,
                        gsize len,
                        NfltrSocks5Request *destination,
                        gsize *data_offset)
{
  NfltrSocks5Reply reply;
  gssize n;

  memset (destination, 0, sizeof *destination);
  if (len < 4 || buf[0] != 0 || buf[1] != 0 || buf[2] != 0)
    return NFLTR_SOCKS5_PARSE_BAD;
  n = parse_address (buf + 3, len - 3, destination, &reply);
  if (n <= 0)
    return NFLTR_SOCKS5_PARSE_BAD;
  *data_offset = 3 + (gsize) n;
  return NFLTR_SOCKS5_PARSE_OK;
}

gsize
nfltr_socks5_build_reply (guint8 out[10],
                          NfltrSocks5Reply reply,
                          guint32 bound_addr,
                          guint16 bound_port)
{
  out[0] = NFLTR_SOCKS5_VERSION;
  out[1] = (guint8) reply;
  out[2] = 0;
  out[3] = NFLTR_SOCKS5_ATYP_IPV4;
  memcpy (out + 4, &bound_addr, 4);
  out[8] = (guint8) (bound_port >> 8);
  out[9] = (guint8) bound_port;
  return 10;
}

gsize
nfltr_socks5_build_udp_header (guint8 out[10],
                               guint32 src_addr,
                               guint16 src_port)
{
  out[0] = out[1] = out[2] = 0;
  out[3] = NFLTR_SOCKS5_ATYP_IPV4;
  memcpy (out + 4, &src_addr, 4);
  out[8] = (guint8) (src_port >> 8);
  out[9] = (guint8) src_port;
  return 10;
}
