/* sanitizer-leak.c — leaks on purpose and exits 0; test_sanitizer_run.py runs it as a grandchild
 * of tools/sanitizer-run to show that a report from any process a test starts fails the test. */
#include <stdlib.h>
#include <string.h>

static void *volatile sink;

int
main (void)
{
  char *p = malloc (33);

  memset (p, 'x', 33);
  sink = p;
  sink = NULL;  /* the only pointer is gone: LeakSanitizer reports it at exit */
  return 0;
}
