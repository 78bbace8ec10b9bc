/* nfltr-socks5-proto.h — the SOCKS5 messages (RFC 1928) and username/password sub-negotiation
 * (RFC 1929) as pure functions over a byte buffer: parse what a client sent, build what we
 * answer. Everything a client sends passes through here first (fuzz/fuzz-socks5.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_SOCKS5_VERSION 0x05      /* RFC 1928 §3 */
#define NFLTR_SOCKS5_AUTH_VERSION 0x01 /* RFC 1929 §2 */

/* RFC 1928 §3 methods */
#define NFLTR_SOCKS5_METHOD_NO_AUTH 0x00
#define NFLTR_SOCKS5_METHOD_USERPASS 0x02
#define NFLTR_SOCKS5_METHOD_NONE_ACCEPTABLE 0xff

/* RFC 1928 §4 commands and address types */
#define NFLTR_SOCKS5_CMD_CONNECT 0x01
#define NFLTR_SOCKS5_CMD_BIND 0x02
#define NFLTR_SOCKS5_CMD_UDP_ASSOCIATE 0x03
#define NFLTR_SOCKS5_ATYP_IPV4 0x01
#define NFLTR_SOCKS5_ATYP_DOMAIN 0x03
#define NFLTR_SOCKS5_ATYP_IPV6 0x04

/* RFC 1928 §6 reply codes */
typedef enum {
  NFLTR_SOCKS5_REP_SUCCEEDED = 0x00,
  NFLTR_SOCKS5_REP_GENERAL_FAILURE = 0x01,
  NFLTR_SOCKS5_REP_NOT_ALLOWED = 0x02,
  NFLTR_SOCKS5_REP_NETWORK_UNREACHABLE = 0x03,
  NFLTR_SOCKS5_REP_HOST_UNREACHABLE = 0x04,
  NFLTR_SOCKS5_REP_CONNECTION_REFUSED = 0x05,
  NFLTR_SOCKS5_REP_TTL_EXPIRED = 0x06,
  NFLTR_SOCKS5_REP_COMMAND_NOT_SUPPORTED = 0x07,
  NFLTR_SOCKS5_REP_ADDRESS_TYPE_NOT_SUPPORTED = 0x08,
} NfltrSocks5Reply;

typedef enum {
  NFLTR_SOCKS5_PARSE_OK,
  NFLTR_SOCKS5_PARSE_NEED_MORE,
  NFLTR_SOCKS5_PARSE_BAD,
} NfltrSocks5Parse;

typedef struct {
  guint8 command;
  guint8 atyp;
  guint8 addr[16]; /* IPv4 in the first 4 bytes, IPv6 in all 16 */
  char host[256];  /* ATYP_DOMAIN: the name, NUL-terminated */
  guint16 port;
} NfltrSocks5Request;

/* Greeting: VER NMETHODS METHODS… ; *methods gets one bit per method 0–7 offered. */
NfltrSocks5Parse nfltr_socks5_parse_greeting (const guint8 *buf, gsize len, gsize *consumed, guint8 *methods);
/* RFC 1929: VER ULEN UNAME PLEN PASSWD (names up to 255 bytes, NUL-terminated here). */
NfltrSocks5Parse nfltr_socks5_parse_userpass (const guint8 *buf, gsize len, gsize *consumed, char user[256],
                                              char pass[256]);
/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT. On BAD, *reply is the code to answer with
 * (0 when no answer is possible because the version is wrong). */
NfltrSocks5Parse nfltr_socks5_parse_request (const guint8 *buf, gsize len, gsize *consumed,
                                             NfltrSocks5Request *request, NfltrSocks5Reply *reply);
/* UDP relay header (RFC 1928 §7): RSV RSV FRAG ATYP DST.ADDR DST.PORT DATA. Fragments
 * (FRAG != 0) are BAD: "an implementation that does not support fragmentation MUST drop". */
NfltrSocks5Parse nfltr_socks5_parse_udp (const guint8 *buf, gsize len, NfltrSocks5Request *destination,
                                         gsize *data_offset);
/* The reply VER REP RSV ATYP BND.ADDR BND.PORT for an IPv4 bound address (network order). */
gsize nfltr_socks5_build_reply (guint8 out[10], NfltrSocks5Reply reply, guint32 bound_addr,
                                guint16 bound_port);
/* The UDP relay header for a datagram from an IPv4 source; returns its length (10). */
gsize nfltr_socks5_build_udp_header (guint8 out[10], guint32 src_addr, guint16 src_port);

G_END_DECLS
