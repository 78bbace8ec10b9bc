/* nfltr-p2p-code.h — the short code two people read to each other: a number, then two or
 * three words from a list of 256 (docs/protocol.md §9.1), e.g. "7-lantern-otter-quartz".
 *
 * The number says which offer to join (the relay matches offers by it; it is not secret);
 * the whole code, number included, is CPace's password (PRS). Three words are 24 bits:
 * CPace lets an active attacker test one guess per run, and an offer allows two runs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NFLTR_P2P_CODE_LIST_SIZE  256
#define NFLTR_P2P_CODE_MIN_WORDS  2
#define NFLTR_P2P_CODE_MAX_WORDS  3
#define NFLTR_P2P_CODE_MAX_NUMBER 9999

const char *nfltr_p2p_code_word (guint index);
int         nfltr_p2p_code_word_index (const char *word,
                                       gsize       len);

/* A fresh code for offer NUMBER with N_WORDS words drawn with libsodium's CSPRNG. */
char       *nfltr_p2p_code_generate (guint number,
                                     guint n_words);

/* Accepts what a person types: any case, words separated by '-', spaces or both, blanks
 * around. On success *NORMALIZED is the canonical form ("7-lantern-otter-quartz") that
 * both sides feed to CPace. */
gboolean    nfltr_p2p_code_parse (const char *text,
                                  guint      *number,
                                  char      **normalized,
                                  GError    **error);

G_END_DECLS
