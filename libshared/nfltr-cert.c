/* nfltr-cert.c — placeholder, being written */
#define G_LOG_DOMAIN "nfltr-cert"
#include "nfltr-cert.h"
