/* nfltr-kind-ai.c — "ai": an AI command-line session (claude unless told otherwise) in the
 * browser terminal, kept alive across page reloads, its transcript downloadable. It is the
 * terminal kind (service/kinds/terminal/nfltr-term-app.c) with other defaults. */
#define G_LOG_DOMAIN "nfltr-ai"

#include "nfltr-kind-ai.h"

#include "nfltr-term-app.h"
#include "nfltr-web.h"

/* The transcript is the point here: 8 MiB of output kept (a long session), of which a reload
 * replays the newest 512 KiB (NFLTR_TERM_REPLAY_MAX). */
static const NfltrTermAppKind ai_app = { "AI session", "claude", 8 * 1024 * 1024 };

struct _NfltrKindAi {
  NfltrTunnelKind parent_instance;
};

G_DEFINE_FINAL_TYPE (NfltrKindAi, nfltr_kind_ai, NFLTR_TYPE_TUNNEL_KIND)

static const char *
ai_get_id (NfltrTunnelKind *kind)
{
  return "ai";
}

static const char *
ai_get_label (NfltrTunnelKind *kind)
{
  return "AI session";
}

static const char *
ai_get_description (NfltrTunnelKind *kind)
{
  return "An AI command-line session (claude by default) in a browser terminal";
}

static GVariant *
ai_parse (NfltrTunnelKind *kind, const char *target, GVariant *options, GError **error)
{
  return nfltr_term_app_parse (&ai_app, target, options, error);
}

static char *
ai_describe_target (NfltrTunnelKind *kind, GVariant *config)
{
  return nfltr_term_app_describe_target (config);
}

static gboolean
ai_start (NfltrTunnelKind *kind, GVariant *config, GError **error)
{
  return nfltr_term_app_start (config, error);
}

static void
nfltr_kind_ai_class_init (NfltrKindAiClass *klass)
{
  NfltrTunnelKindClass *kind_class = NFLTR_TUNNEL_KIND_CLASS (klass);

  nfltr_web_kind_class_init (kind_class);
  kind_class->get_id = ai_get_id;
  kind_class->get_label = ai_get_label;
  kind_class->get_description = ai_get_description;
  kind_class->parse = ai_parse;
  kind_class->describe_target = ai_describe_target;
  kind_class->start = ai_start;
}

static void
nfltr_kind_ai_init (NfltrKindAi *self)
{
}
