/* nfltr-kind-terminal.c — "terminal": the user's shell (or a command) in a browser terminal,
 * over the agent's own TLS. Everything but the defaults is nfltr-term-app.c, which the ai
 * kind shares. */
#define G_LOG_DOMAIN "nfltr-terminal"

#include "nfltr-kind-terminal.h"

#include "nfltr-term-app.h"
#include "nfltr-web.h"

/* A megabyte of output: the replay after a reload, and the transcript. */
static const NfltrTermAppKind terminal_app = { "Terminal", NULL, 1024 * 1024 };

struct _NfltrKindTerminal {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindTerminal, nfltr_kind_terminal, NFLTR_TYPE_TUNNEL_KIND)

static const char *
terminal_get_id (NfltrTunnelKind *kind)
{
  return "terminal";
}

static const char *
terminal_get_label (NfltrTunnelKind *kind)
{
  return "Terminal";
}

static const char *
terminal_get_description (NfltrTunnelKind *kind)
{
  return "Your shell (or a command) in a browser terminal";
}

static GVariant *
terminal_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  return nfltr_term_app_parse (&terminal_app, target, options, error);
}

static char *
terminal_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  return nfltr_term_app_describe_target (config);
}

static gboolean
terminal_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  return nfltr_term_app_start (config, error);
}

static void
nfltr_kind_terminal_class_init (NfltrKindTerminalClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = terminal_get_id;
  kind_class->get_label = terminal_get_label;
  kind_class->get_description = terminal_get_description;
  kind_class->parse = terminal_parse;
  kind_class->describe_target = terminal_describe_target;
  kind_class->start = terminal_start;
}

static void
nfltr_kind_terminal_init (NfltrKindTerminal *self)
{
}
