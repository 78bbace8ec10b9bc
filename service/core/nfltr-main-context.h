/* nfltr-main-context.h — timers on the thread-default main context.
 *
 * The engine runs on the service's main thread, or on a thread of its own inside the CLI
 * (architecture.md). g_timeout_add() and g_source_remove() only know the global default
 * context, so the engine keeps GSource pointers attached to the thread-default one. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Takes source (a new timeout) and attaches it to the thread-default context. */
static inline GSource *
nfltr_source_attach_here (GSource *source, GSourceFunc callback, gpointer user_data)
{
  g_source_set_callback (source, callback, user_data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static inline GSource *
nfltr_timeout_source_add (guint interval_ms, GSourceFunc callback, gpointer user_data)
{
  return nfltr_source_attach_here (g_timeout_source_new (interval_ms), callback, user_data);
}

static inline GSource *
nfltr_timeout_source_add_seconds (guint interval_s, GSourceFunc callback, gpointer user_data)
{
  return nfltr_source_attach_here (g_timeout_source_new_seconds (interval_s), callback, user_data);
}

/* Destroys and drops *source; safe from inside its own callback. */
static inline void
nfltr_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

G_END_DECLS
