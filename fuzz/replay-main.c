/* replay-main.c — runs a fuzz target over every file of its seed corpus, as an ordinary
 * test in every build (GLib's fuzzing/ does the same). With libFuzzer the target links
 * against -fsanitize=fuzzer instead and this file is not used. */
#include <glib.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
main (int argc, char *argv[])
{
  guint n = 0;

  if (argc < 2)
    {
      g_printerr ("usage: %s CORPUS-DIR|FILE...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GDir) dir = NULL;
      const char *name;

      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autofree char *data = NULL;
          gsize len;
          if (!g_file_get_contents (argv[i], &data, &len, NULL))
            {
              g_printerr ("cannot read %s\n", argv[i]);
              return 1;
            }
          LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
          n++;
          continue;
        }
      dir = g_dir_open (argv[i], 0, NULL);
      if (dir == NULL)
        {
          g_printerr ("cannot open %s\n", argv[i]);
          return 1;
        }
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *path = g_build_filename (argv[i], name, NULL);
          g_autofree char *data = NULL;
          gsize len;

          if (!g_file_get_contents (path, &data, &len, NULL))
            continue;
          LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
          n++;
        }
    }
  if (n == 0)
    {
      g_printerr ("no corpus inputs found: a replay that runs nothing proves nothing\n");
      return 1;
    }
  g_print ("replayed %u inputs\n", n);
  return 0;
}
