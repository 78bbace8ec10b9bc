/* nfltr-call-window.c — one call's window (issue 14).
 *
 * Frames: the media's appsinks hand RGBA samples on streaming threads; each becomes a
 * GdkMemoryTexture over the sample's own mapped memory (no copy here: GTK's upload is the one
 * copy per frame) and is shown on the main thread. Only the newest frame waits per picture: a
 * slow window drops frames rather than queueing them. */
#define G_LOG_DOMAIN "nfltr-app"

#include <glib/gi18n.h>
#include <gst/video/video.h>

#include "nfltr-call-window.h"
#include "nfltr-call-media.h"
#include "nfltr-dbus.h"

struct _NfltrCallWindow {
  AdwWindow parent_instance;

  AdwWindowTitle *title;
  GtkLabel *badge;
  GtkLabel *code_label;
  GtkPicture *remote;
  GtkPicture *local;
  GtkLabel *duration;
  GtkToggleButton *mute;
  GtkToggleButton *camera;
  GtkButton *hangup;
  GtkLabel *status;

  GDBusConnection *connection;
  char *path;
  char *code;
  NfltrDbusCall *call;
  NfltrCallMedia *media;
  GPtrArray *early; /* NfltrCallSignal: before the media exists */
  GCancellable *cancellable;
  gint64 connected_at;
  guint tick_id;
  char *failure;
  gboolean ended;

  GMutex lock;
  GdkTexture *pending[2]; /* [0] local, [1] remote: the newest frame not shown yet */
  guint show_id;
  guint64 shown[2];
};

G_DEFINE_FINAL_TYPE (NfltrCallWindow, nfltr_call_window, ADW_TYPE_WINDOW)

static void
set_status (NfltrCallWindow *self, const char *text)
{
  gtk_label_set_text (self->status, text);
  adw_window_title_set_subtitle (self->title, text);
}

/* --- frames ------------------------------------------------------------------------------ */

typedef struct {
  GstBuffer *buffer;
  GstMapInfo map;
} MappedFrame;

static void
mapped_frame_free (gpointer data)
{
  MappedFrame *f = data;

  gst_buffer_unmap (f->buffer, &f->map);
  gst_buffer_unref (f->buffer);
  g_free (f);
}

static gboolean
show_frames_cb (gpointer user_data)
{
  NfltrCallWindow *self = user_data;
  GdkTexture *textures[2];

  g_mutex_lock (&self->lock);
  textures[0] = g_steal_pointer (&self->pending[0]);
  textures[1] = g_steal_pointer (&self->pending[1]);
  self->show_id = 0;
  g_mutex_unlock (&self->lock);
  for (int i = 0; i < 2; i++)
    if (textures[i] != NULL)
      {
        gtk_picture_set_paintable (i ? self->remote : self->local, GDK_PAINTABLE (textures[i]));
        self->shown[i]++;
        g_object_unref (textures[i]);
      }
  return G_SOURCE_REMOVE;
}

static void
frame_cb (NfltrCallMedia *media, gboolean remote, GstSample *sample, NfltrCallWindow *self)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstVideoInfo info;
  MappedFrame *f;
  g_autoptr(GBytes) bytes = NULL;
  GdkTexture *texture;

  if (buffer == NULL || !gst_video_info_from_caps (&info, gst_sample_get_caps (sample)))
    return;
  f = g_new0 (MappedFrame, 1);
  f->buffer = gst_buffer_ref (buffer);
  if (!gst_buffer_map (f->buffer, &f->map, GST_MAP_READ))
    {
      gst_buffer_unref (f->buffer);
      g_free (f);
      return;
    }
  bytes = g_bytes_new_with_free_func (f->map.data, f->map.size, mapped_frame_free, f);
  texture = gdk_memory_texture_new (GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info),
                                    GDK_MEMORY_R8G8B8A8, bytes, GST_VIDEO_INFO_PLANE_STRIDE (&info, 0));
  g_mutex_lock (&self->lock);
  g_clear_object (&self->pending[remote ? 1 : 0]);
  self->pending[remote ? 1 : 0] = texture;
  if (self->show_id == 0)
    self->show_id = g_idle_add_full (G_PRIORITY_DEFAULT, show_frames_cb, g_object_ref (self), g_object_unref);
  g_mutex_unlock (&self->lock);
}

/* --- the call ------------------------------------------------------------------------------ */

static void
end (NfltrCallWindow *self, const char *why)
{
  if (self->ended)
    return;
  self->ended = TRUE;
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->media != NULL)
    {
      nfltr_call_media_stop (self->media);
      g_signal_handlers_disconnect_by_data (self->media, self);
    }
  if (why != NULL && self->failure == NULL)
    self->failure = g_strdup (why);
  set_status (self, why != NULL ? why : _("Call ended"));
  gtk_widget_set_sensitive (GTK_WIDGET (self->hangup), FALSE);
}

static void
send_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (!nfltr_dbus_call_call_send_finish (NFLTR_DBUS_CALL (source), result, &error))
    g_debug ("Call.Send: %s", error->message);
}

static void
media_signal_cb (NfltrCallMedia *media, NfltrCallSignal *signal, NfltrCallWindow *self)
{
  g_autofree char *text = nfltr_call_signal_to_string (signal);

  nfltr_dbus_call_call_send (self->call, text, self->cancellable, send_done_cb, NULL);
}

static void
media_failed_cb (NfltrCallMedia *media, const char *message, NfltrCallWindow *self)
{
  nfltr_dbus_call_call_hangup (self->call, NULL, NULL, NULL);
  end (self, message);
}

static void
update_badge (NfltrCallWindow *self)
{
  NfltrCallStats stats = { 0 };
  const char *path;
  g_autofree char *text = NULL;

  if (self->media != NULL)
    nfltr_call_media_get_stats (self->media, &stats);
  path = *stats.path ? stats.path : nfltr_dbus_call_get_path (self->call);
  if (path == NULL || !*path)
    return;
  text = g_strdup_printf ("%s%s", g_str_equal (path, "relayed") ? _("Relayed") : _("Direct"),
                          nfltr_dbus_call_get_verified (self->call) ? _(" · Verified") : "");
  gtk_label_set_text (self->badge, text);
  gtk_widget_set_visible (GTK_WIDGET (self->badge), TRUE);
}

static void
media_connected_cb (NfltrCallMedia *media, NfltrCallWindow *self)
{
  set_status (self, _("Connected: the peer's media key matches the code"));
  update_badge (self);
}

static gboolean
tick_cb (gpointer user_data)
{
  NfltrCallWindow *self = user_data;
  gint64 s = (g_get_monotonic_time () - self->connected_at) / G_USEC_PER_SEC;
  g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT ":%02" G_GINT64_FORMAT, s / 60, s % 60);

  gtk_label_set_text (self->duration, text);
  update_badge (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
have_camera (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/dev", 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "video"))
      return TRUE;
  return FALSE;
}

static void
start_media (NfltrCallWindow *self)
{
  gboolean test = g_strcmp0 (g_getenv ("NFLTR_CALL_TEST_SOURCES"), "1") == 0;
  NfltrCallMediaConfig config = {
    .initiator = nfltr_dbus_call_get_initiator (self->call),
    .video = test ? NFLTR_CALL_SOURCE_TEST : have_camera () ? NFLTR_CALL_SOURCE_DEVICE : NFLTR_CALL_SOURCE_NONE,
    .audio = test ? NFLTR_CALL_SOURCE_TEST : NFLTR_CALL_SOURCE_DEVICE,
    .pattern = g_getenv ("NFLTR_CALL_TEST_PATTERN"),
    .stun = nfltr_dbus_call_get_stun_server (self->call),
    .turn = nfltr_dbus_call_get_turn_server (self->call),
    .local_address = g_getenv ("NFLTR_P2P_LOCAL_ADDRESS"),
    .frames = TRUE,
    .play_audio = !test,
  };
  g_autoptr(GError) error = NULL;

  /* GStreamer (and its plugin registry scan) is loaded at the first call, not at app start. */
  gst_init (NULL, NULL);
  if (config.video == NFLTR_CALL_SOURCE_NONE)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->local), FALSE);
      gtk_widget_set_sensitive (GTK_WIDGET (self->camera), FALSE);
    }
  self->media = nfltr_call_media_new (&config);
  g_signal_connect (self->media, "signal", G_CALLBACK (media_signal_cb), self);
  g_signal_connect (self->media, "failed", G_CALLBACK (media_failed_cb), self);
  g_signal_connect (self->media, "connected", G_CALLBACK (media_connected_cb), self);
  g_signal_connect (self->media, "frame", G_CALLBACK (frame_cb), self);
  if (!nfltr_call_media_start (self->media, &error))
    {
      nfltr_dbus_call_call_hangup (self->call, NULL, NULL, NULL);
      end (self, error->message);
      return;
    }
  for (guint i = 0; i < self->early->len; i++)
    nfltr_call_media_take_signal (self->media, self->early->pdata[i]);
  g_ptr_array_set_size (self->early, 0);
  gtk_widget_set_visible (GTK_WIDGET (self->code_label), FALSE);
  set_status (self, _("Connecting…"));
  self->connected_at = g_get_monotonic_time ();
  self->tick_id = g_timeout_add_seconds (1, tick_cb, self);
}

static void
state_cb (GObject *object, GParamSpec *pspec, NfltrCallWindow *self)
{
  const char *state = nfltr_dbus_call_get_state (self->call);

  if (state == NULL || self->ended)
    return;
  if (g_str_equal (state, "connected") && self->media == NULL)
    start_media (self);
  else if (g_str_equal (state, "waiting"))
    set_status (self, _("Waiting for the peer to type the code"));
  else if (g_str_equal (state, "pairing"))
    set_status (self, _("Checking the code…"));
  else if (g_str_equal (state, "calling"))
    set_status (self, _("Ringing…"));
  else if (g_str_equal (state, "ended"))
    end (self, NULL);
  else if (g_str_equal (state, "declined"))
    end (self, _("The peer declined the call"));
  else if (g_str_equal (state, "failed"))
    end (self, nfltr_dbus_call_get_last_error (self->call));
}

static void
received_cb (NfltrDbusCall *call, const char *text, NfltrCallWindow *self)
{
  NfltrCallSignal *signal = nfltr_call_signal_parse (text, -1, NULL);

  if (signal == NULL)
    return;
  if (signal->type == NFLTR_CALL_SIGNAL_BYE)
    {
      nfltr_call_signal_free (signal);
      end (self, _("The peer hung up"));
      return;
    }
  if (self->media == NULL)
    {
      g_ptr_array_add (self->early, signal);
      return;
    }
  nfltr_call_media_take_signal (self->media, signal);
  nfltr_call_signal_free (signal);
}

static void
proxy_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(NfltrCallWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  NfltrDbusCall *call = nfltr_dbus_call_proxy_new_finish (result, &error);

  if (call == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        end (self, error->message);
      return;
    }
  self->call = call;
  g_signal_connect_object (call, "notify::state", G_CALLBACK (state_cb), self, 0);
  g_signal_connect_object (call, "received", G_CALLBACK (received_cb), self, 0);
  state_cb (NULL, NULL, self);
}

static void
hangup_clicked_cb (GtkButton *button, NfltrCallWindow *self)
{
  if (self->call != NULL)
    nfltr_dbus_call_call_hangup (self->call, NULL, NULL, NULL);
  end (self, NULL);
}

static void
mute_toggled_cb (GtkToggleButton *button, NfltrCallWindow *self)
{
  if (self->media != NULL)
    nfltr_call_media_set_muted (self->media, gtk_toggle_button_get_active (button));
}

static void
camera_toggled_cb (GtkToggleButton *button, NfltrCallWindow *self)
{
  gboolean off = gtk_toggle_button_get_active (button);

  if (self->media != NULL)
    nfltr_call_media_set_camera (self->media, !off);
  gtk_widget_set_tooltip_text (GTK_WIDGET (button), off ? _("Turn the camera on") : _("Turn the camera off"));
}

NfltrCallWindow *
nfltr_call_window_new (GtkApplication  *app,
                       GDBusConnection *connection,
                       const char      *call_path,
                       const char      *code)
{
  NfltrCallWindow *self = g_object_new (NFLTR_TYPE_CALL_WINDOW, "application", app, NULL);

  self->connection = g_object_ref (connection);
  self->path = g_strdup (call_path);
  self->code = g_strdup (code);
  if (code != NULL && *code)
    {
      g_autofree char *text = g_strdup_printf (_("Code: %s"), code);

      gtk_label_set_text (self->code_label, text);
      gtk_widget_set_visible (GTK_WIDGET (self->code_label), TRUE);
    }
  set_status (self, _("Starting…"));
  nfltr_dbus_call_proxy_new (connection, G_DBUS_PROXY_FLAGS_GET_INVALIDATED_PROPERTIES, NFLTR_SERVICE_BUS_NAME,
                             call_path, self->cancellable, proxy_ready_cb, g_object_ref (self));
  return self;
}

const char *
nfltr_call_window_get_path (NfltrCallWindow *self)
{
  return self->path;
}

GVariant *
nfltr_call_window_describe (NfltrCallWindow *self)
{
  GVariantDict d;
  NfltrCallStats stats = { 0 };

  if (self->media != NULL)
    nfltr_call_media_get_stats (self->media, &stats);
  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "path", "s", self->path);
  g_variant_dict_insert (&d, "code", "s", self->code != NULL ? self->code : "");
  g_variant_dict_insert (&d, "state", "s", self->call != NULL ? nfltr_dbus_call_get_state (self->call) : "");
  g_variant_dict_insert (&d, "status", "s", gtk_label_get_text (self->status));
  g_variant_dict_insert (&d, "badge", "s", gtk_widget_get_visible (GTK_WIDGET (self->badge)) ? gtk_label_get_text (self->badge) : "");
  g_variant_dict_insert (&d, "duration", "s", gtk_label_get_text (self->duration));
  g_variant_dict_insert (&d, "video-frames-decoded", "t", stats.video_frames_decoded);
  g_variant_dict_insert (&d, "audio-packets-received", "t", stats.audio_packets_received);
  g_variant_dict_insert (&d, "media-path", "s", stats.path);
  g_variant_dict_insert (&d, "remote-frames-shown", "t", self->shown[1]);
  g_variant_dict_insert (&d, "local-frames-shown", "t", self->shown[0]);
  g_variant_dict_insert (&d, "failure", "s", self->failure != NULL ? self->failure : "");
  return g_variant_dict_end (&d);
}

static gboolean
close_request_cb (GtkWindow *window, gpointer user_data)
{
  NfltrCallWindow *self = NFLTR_CALL_WINDOW (window);

  if (!self->ended && self->call != NULL)
    nfltr_dbus_call_call_hangup (self->call, NULL, NULL, NULL);
  end (self, NULL);
  return FALSE;
}

static void
nfltr_call_window_dispose (GObject *object)
{
  NfltrCallWindow *self = NFLTR_CALL_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->tick_id, g_source_remove);
  if (self->media != NULL)
    {
      nfltr_call_media_stop (self->media);
      g_signal_handlers_disconnect_by_data (self->media, self);
      g_clear_object (&self->media);
    }
  g_mutex_lock (&self->lock);
  g_clear_object (&self->pending[0]);
  g_clear_object (&self->pending[1]);
  g_mutex_unlock (&self->lock);
  g_clear_object (&self->call);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (nfltr_call_window_parent_class)->dispose (object);
}

static void
nfltr_call_window_finalize (GObject *object)
{
  NfltrCallWindow *self = NFLTR_CALL_WINDOW (object);

  g_ptr_array_unref (self->early);
  g_clear_object (&self->cancellable);
  g_free (self->path);
  g_free (self->code);
  g_free (self->failure);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (nfltr_call_window_parent_class)->finalize (object);
}

static void
nfltr_call_window_class_init (NfltrCallWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nfltr_call_window_dispose;
  object_class->finalize = nfltr_call_window_finalize;
  gtk_widget_class_set_template_from_resource (widget_class, "/xyz/nfltr/Nfltr/calls/nfltr-call-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, title);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, badge);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, code_label);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, remote);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, local);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, duration);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, mute);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, camera);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, hangup);
  gtk_widget_class_bind_template_child (widget_class, NfltrCallWindow, status);
}

static void
nfltr_call_window_init (NfltrCallWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_mutex_init (&self->lock);
  self->cancellable = g_cancellable_new ();
  self->early = g_ptr_array_new_with_free_func ((GDestroyNotify) nfltr_call_signal_free);
  g_signal_connect (self->hangup, "clicked", G_CALLBACK (hangup_clicked_cb), self);
  g_signal_connect (self->mute, "toggled", G_CALLBACK (mute_toggled_cb), self);
  g_signal_connect (self->camera, "toggled", G_CALLBACK (camera_toggled_cb), self);
  g_signal_connect (self, "close-request", G_CALLBACK (close_request_cb), NULL);
}
