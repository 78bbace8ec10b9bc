#define G_LOG_DOMAIN "nfltr-p2p"

#include "nfltr-p2p-error.h"

G_DEFINE_QUARK (nfltr-p2p-error-quark, nfltr_p2p_error)
