/* nfltr-invocation.h — answering a D-Bus method call with an error. */
#pragma once

#include <gio/gio.h>

#include "nfltr-error.h"

G_BEGIN_DECLS

/* Takes ownership of invocation, like every g_dbus_method_invocation_return_*(). */
static inline void
nfltr_invocation_return_error (GDBusMethodInvocation *invocation, const GError *error)
{
  /* Our domain is registered for D-Bus; anything else becomes xyz.nfltr.Nfltr.Error.Failed. */
  if (error->domain == NFLTR_ERROR)
    g_dbus_method_invocation_return_gerror (invocation, error);
  else
    g_dbus_method_invocation_return_error_literal (invocation, NFLTR_ERROR, NFLTR_ERROR_FAILED,
                                                   error->message);
}

G_END_DECLS
