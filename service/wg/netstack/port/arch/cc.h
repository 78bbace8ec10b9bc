/* lwIP's compiler and platform glue for Linux with glibc. */
#ifndef NFLTR_LWIP_ARCH_CC_H
#define NFLTR_LWIP_ARCH_CC_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_RAND() nfltr_lwip_rand ()
unsigned int nfltr_lwip_rand (void);

/* An lwIP assertion is a bug in lwIP or in our glue: stop there, loudly. */
#define LWIP_PLATFORM_DIAG(x) \
  do \
    { \
      printf x; \
    } \
  while (0)
#define LWIP_PLATFORM_ASSERT(x) \
  do \
    { \
      fprintf (stderr, "lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__); \
      abort (); \
    } \
  while (0)

#endif
