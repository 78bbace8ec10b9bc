/* nfltr-application.c — the application object: one window, one client of the service,
 * desktop notifications (nfltr-failure-notifier.c) when tunnels fail while the window is closed. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>

#include "nfltr-application-private.h"

G_DEFINE_FINAL_TYPE (NfltrApplication, nfltr_application, ADW_TYPE_APPLICATION)

/* Installed, the schema is in the system's schema path. Run from a build tree, it was compiled
 * next to the build (data/app/); look there so `./build/app/nfltr-app` works uninstalled. */
static GSettings *
create_settings (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettingsSchemaSource) build_source = NULL;

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, NFLTR_APP_ID, TRUE);
  if (schema == NULL)
    {
      g_autofree char *dir = g_build_filename (NFLTR_BUILD_ROOT, "data", "app", NULL);

      build_source = g_settings_schema_source_new_from_directory (dir, source, FALSE, NULL);
      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, NFLTR_APP_ID, TRUE);
    }
  if (schema == NULL)
    g_error ("GSettings schema %s is not installed", NFLTR_APP_ID);
  return g_settings_new_full (schema, NULL, NULL);
}

/* The window shows a failure itself; notify only when nobody is looking at it. */
static gboolean
window_is_watched (gpointer user_data)
{
  NfltrApplication *self = user_data;

  return self->window != NULL &&
         gtk_widget_get_visible (GTK_WIDGET (self->window)) &&
         gtk_window_is_active (GTK_WINDOW (self->window));
}

static void
nfltr_application_startup (GApplication *app)
{
  NfltrApplication *self = NFLTR_APPLICATION (app);

  G_APPLICATION_CLASS (nfltr_application_parent_class)->startup (app);

  self->settings = create_settings ();
  self->client = nfltr_client_new ();
  self->notifier = nfltr_failure_notifier_new (app, self->client, window_is_watched, self);
  _nfltr_application_actions_init (self);
  nfltr_client_connect (self->client);
}

NfltrWindow *
_nfltr_application_get_window (NfltrApplication *self)
{
  if (self->window == NULL)
    {
      NfltrWindow *window = nfltr_window_new (ADW_APPLICATION (self), self->client);

      g_set_weak_pointer (&self->window, window);
    }
  return self->window;
}

static void
nfltr_application_activate (GApplication *app)
{
  NfltrApplication *self = NFLTR_APPLICATION (app);
  NfltrWindow *window = _nfltr_application_get_window (self);

  /* Issue 9 §7, started at login: watch the tunnels, show nothing until asked. */
  if (self->start_hidden)
    {
      self->start_hidden = FALSE;
      self->held = TRUE;
      g_application_hold (app);
      return;
    }
  if (self->held)
    {
      self->held = FALSE;
      g_application_release (app);
    }
  gtk_window_present (GTK_WINDOW (window));
}

static int
nfltr_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  NfltrApplication *self = NFLTR_APPLICATION (app);
  g_autoptr (GError) error = NULL;

  if (!g_variant_dict_contains (options, "background"))
    return -1;
  if (!g_application_register (app, NULL, &error))
    {
      g_printerr ("nfltr-app: %s\n", error->message);
      return 1;
    }
  /* Already running (shown or not): nothing to do, and no window to pop up at login. */
  if (g_application_get_is_remote (app))
    return 0;
  self->start_hidden = TRUE;
  return -1;
}

static void
nfltr_application_shutdown (GApplication *app)
{
  NfltrApplication *self = NFLTR_APPLICATION (app);

  /* app.quit does not go through the window's close-request: remember its size here too. */
  if (self->window != NULL)
    nfltr_window_save_state (self->window);
  g_clear_weak_pointer (&self->window);
  g_clear_object (&self->notifier);
  g_clear_object (&self->client);

  G_APPLICATION_CLASS (nfltr_application_parent_class)->shutdown (app);
}

static void
nfltr_application_finalize (GObject *object)
{
  NfltrApplication *self = NFLTR_APPLICATION (object);

  g_clear_object (&self->settings);
  g_clear_object (&self->client);

  G_OBJECT_CLASS (nfltr_application_parent_class)->finalize (object);
}

static void
nfltr_application_class_init (NfltrApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = nfltr_application_finalize;
  app_class->startup = nfltr_application_startup;
  app_class->activate = nfltr_application_activate;
  app_class->handle_local_options = nfltr_application_handle_local_options;
  app_class->shutdown = nfltr_application_shutdown;
}

static void
nfltr_application_init (NfltrApplication *self)
{
  g_application_add_main_option (G_APPLICATION (self), "background", 0, G_OPTION_FLAG_NONE,
                                 G_OPTION_ARG_NONE,
                                 _("Start without a window and watch the tunnels (as at login)"), NULL);
}

NfltrApplication *
nfltr_application_new (void)
{
  return g_object_new (NFLTR_TYPE_APPLICATION,
                       "application-id", NFLTR_APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/xyz/nfltr/Nfltr",
                       NULL);
}

GSettings *
nfltr_application_get_settings (NfltrApplication *self)
{
  g_return_val_if_fail (NFLTR_IS_APPLICATION (self), NULL);
  return self->settings;
}

NfltrClient *
nfltr_application_get_client (NfltrApplication *self)
{
  g_return_val_if_fail (NFLTR_IS_APPLICATION (self), NULL);
  return self->client;
}
