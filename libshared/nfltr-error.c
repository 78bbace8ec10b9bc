/* nfltr-error.c — the NFLTR error domain, registered for D-Bus */
#define G_LOG_DOMAIN "nfltr-error"

#include "nfltr-error.h"

static const GDBusErrorEntry nfltr_error_entries[] = {
  { NFLTR_ERROR_FAILED, "xyz.nfltr.Nfltr.Error.Failed" },
  { NFLTR_ERROR_INVALID_ARGUMENT, "xyz.nfltr.Nfltr.Error.InvalidArgument" },
  { NFLTR_ERROR_CERTIFICATE, "xyz.nfltr.Nfltr.Error.Certificate" },
  { NFLTR_ERROR_RELAY_UNREACHABLE, "xyz.nfltr.Nfltr.Error.RelayUnreachable" },
  { NFLTR_ERROR_AUTH_FAILED, "xyz.nfltr.Nfltr.Error.AuthFailed" },
  { NFLTR_ERROR_NAME_TAKEN, "xyz.nfltr.Nfltr.Error.NameTaken" },
  { NFLTR_ERROR_NOT_FOUND, "xyz.nfltr.Nfltr.Error.NotFound" },
  { NFLTR_ERROR_NOT_LOGGED_IN, "xyz.nfltr.Nfltr.Error.NotLoggedIn" },
  { NFLTR_ERROR_FINGERPRINT_MISMATCH, "xyz.nfltr.Nfltr.Error.FingerprintMismatch" },
  { NFLTR_ERROR_PROTOCOL, "xyz.nfltr.Nfltr.Error.Protocol" },
  { NFLTR_ERROR_LIMIT, "xyz.nfltr.Nfltr.Error.Limit" },
};

GQuark
nfltr_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("nfltr-error-quark", &quark,
                                      nfltr_error_entries,
                                      G_N_ELEMENTS (nfltr_error_entries));
  return (GQuark) quark;
}
