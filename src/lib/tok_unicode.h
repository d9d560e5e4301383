/*
 * tok_unicode.h - code point classes of the pre-tokenizer (private to the
 * tokenizer).  The table is generated from Unicode 16.0.0, the version Hugging
 * Face tokenizers uses, by scripts/gen-unicode-table.mjs.
 */
#ifndef INFTY_TOK_UNICODE_H
#define INFTY_TOK_UNICODE_H

#include <stdint.h>

/* \p{M}, \p{P}, \p{S} are told apart only for DeepSeek-V3's pattern; for
 * the others they are "other" like the rest. */
enum {
	INFTY_TOK_O = 0,
	INFTY_TOK_L = 1,
	INFTY_TOK_N = 2,
	INFTY_TOK_WS = 3,
	INFTY_TOK_M = 4,
	INFTY_TOK_P = 5,
	INFTY_TOK_S = 6,
};

extern const uint16_t infty_tok_uni_index[0x110000 / 256];
extern const uint8_t infty_tok_uni_data[][128];

/* Class of a code point; anything past U+10FFFF is "other". */
static inline int infty_tok_uni_class(uint32_t cp)
{
	if (cp >= 0x110000)
		return INFTY_TOK_O;
	return (infty_tok_uni_data[infty_tok_uni_index[cp >> 8]][(cp & 255) >> 1] >>
	        ((cp & 1) * 4)) &
	       15;
}

#endif
