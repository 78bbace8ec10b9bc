/* nfltr-error.h — user-facing errors shared by the relay, the service, the CLI and the app.
 * Registered with D-Bus as xyz.nfltr.Nfltr.Error.<Name> so clients get the same code and
 * a readable message. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  NFLTR_ERROR_FAILED,                /* xyz.nfltr.Nfltr.Error.Failed */
  NFLTR_ERROR_INVALID_ARGUMENT,      /* .InvalidArgument: port out of range, bad name, … */
  NFLTR_ERROR_CERTIFICATE,           /* .Certificate: unreadable cert/key, key does not match cert */
  NFLTR_ERROR_RELAY_UNREACHABLE,     /* .RelayUnreachable */
  NFLTR_ERROR_AUTH_FAILED,           /* .AuthFailed: API key refused */
  NFLTR_ERROR_NAME_TAKEN,            /* .NameTaken */
  NFLTR_ERROR_NOT_FOUND,             /* .NotFound: no such tunnel */
  NFLTR_ERROR_NOT_LOGGED_IN,         /* .NotLoggedIn: no relay configured */
  NFLTR_ERROR_FINGERPRINT_MISMATCH,  /* .FingerprintMismatch: relay cert differs from the pinned one */
  NFLTR_ERROR_PROTOCOL,              /* .Protocol: the peer spoke nonsense */
  NFLTR_ERROR_LIMIT,                 /* .Limit */
} NfltrError;

#define NFLTR_ERROR (nfltr_error_quark ())
GQuark nfltr_error_quark (void);

G_END_DECLS
