/* cli-acme-options.h — the ACME options every tunnel command takes (issue 11 item 7):
 * --acme-domain NAME, --acme-directory URL, --acme-ca-bundle FILE, --acme-email ADDRESS,
 * --acme-new-key. They become CreateTunnel's "acme-*" options (service/acme/). */
#pragma once

#include <gio/gio.h>

#include "nfltr-dbus.h"

G_BEGIN_DECLS

typedef struct {
  char     *domain;
  char     *directory;
  char     *ca_bundle;
  char     *email;
  gboolean  new_key;
} CliAcmeArgs;

/* Adds the options to group; their values land in args. */
void      cli_acme_add_entries (GOptionGroup *group,
                                CliAcmeArgs  *args);
/* Checks them: an a{sv} of CreateTunnel options in *options (NULL when none was given), or a
 * usage error naming the option. */
gboolean  cli_acme_apply       (CliAcmeArgs  *args,
                                GVariant    **options,
                                GError      **error);
void      cli_acme_args_clear  (CliAcmeArgs  *args);

/* While `nfltr http` runs: what to print when the tunnel's certificate changed (an ACME
 * issuance or renewal) or its ACME state did, since *shown (the caller's, NULL at first: it
 * only records), as a human line or a JSON "certificate" event; NULL when nothing to say. */
char     *cli_acme_certificate_update (NfltrDbusTunnel *tunnel,
                                       gboolean         json,
                                       char           **shown);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliAcmeArgs, cli_acme_args_clear)

G_END_DECLS
