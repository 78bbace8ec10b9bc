/* nfltr-clienthello.c — placeholder until the relay work lands */
#define G_LOG_DOMAIN "nfltr-clienthello"
#include "nfltr-clienthello.h"
G_DEFINE_QUARK (nfltr-hello-error-quark, nfltr_hello_error)
