/*
 * seg_tok.h - adapt a loaded tokenizer to the segmenter's counter interface.
 */
#ifndef INFTY_SEG_TOK_H
#define INFTY_SEG_TOK_H

#include "seg_run.h"

struct infty_tokenizer;

/* Fill c to count with tok (borrowed: it must outlive every use of c). */
void infty_seg_tok_counter(struct infty_seg_counter *c, struct infty_tokenizer *tok);

#endif
