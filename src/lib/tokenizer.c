/*
 * tokenizer.c - load a Hugging Face tokenizer.json (byte-level BPE) into
 * flat, read-only tables; decode; lookups.  Encoding is in tokenizer_encode.c.
 *
 * Only what we implement exactly is accepted: any other model, normalizer,
 * pre-tokenizer or pattern is INFTY_EUNSUPPORTED with the reason in detail,
 * so a tokenizer is never silently approximated.
 */
#include "infty/tokenizer.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/paths.h"
#include "tok_nfc.h"
#include "tokenizer_impl.h"
#include "tokenizer_json.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utf8proc.h>

/* The split patterns we implement natively, as they appear in tokenizer.json
 * (after JSON unescaping), with the scanner switches that reproduce them. */
static const struct {
	const char *regex;
	struct tok_pattern pat;
} known_patterns[] = {
    /* Qwen2, Qwen2.5, Qwen3 (and DeepSeek-R1-Distill-Qwen): single digits. */
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     {1, 1, 1, 1, 1, 0}},
    /* Llama-3: digits in groups of up to three. */
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
     {1, 1, 3, 1, 1, 0}},
    /* GPT-2 (also what ByteLevel with use_regex:true runs). */
    {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
     {0, 0, 0, 0, 0, 0}},
};

static void set_detail(char *detail, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_detail(char *detail, size_t n, const char *fmt, ...)
{
	if (!detail || !n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, n, fmt, ap);
	va_end(ap);
}

void infty_tokenizer_free(struct infty_tokenizer *t)
{
	if (!t)
		return;
	infty_free(t->arena);
	infty_free(t->tok_off);
	infty_free(t->is_added);
	infty_free(t->vocab_slots);
	infty_free(t->pair_keys);
	infty_free(t->pair_rank);
	infty_free(t->pair_new);
	infty_free((void *)t->self_enc);
	for (size_t i = 0; i < t->n_added; i++)
		infty_free(t->added[i].content);
	infty_free(t->added);
	infty_free(t->nfc_unstable);
	infty_free(t);
}

/* GPT-2's bytes_to_unicode, inverted: code point -> byte, or -1.  Built per
 * load (it is tiny) so concurrent loads share no state. */
static void init_byte_map(int16_t *byte_of_cp)
{
	for (int i = 0; i < 324; i++)
		byte_of_cp[i] = -1;
	int extra = 0;
	for (int b = 0; b < 256; b++) {
		int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		byte_of_cp[printable ? b : 256 + extra++] = (int16_t)b;
	}
}

/* Map a byte-level token string to raw bytes in out (room for len bytes).
 * Returns the byte count, or -1 if a character is outside the alphabet. */
static long bytelevel_decode(const int16_t *byte_of_cp, const char *s, size_t len, char *out)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	size_t i = 0;
	long n = 0;
	while (i < len) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
		if (k <= 0 || cp < 0 || cp >= 324 || byte_of_cp[cp] < 0)
			return -1;
		out[n++] = (char)byte_of_cp[cp];
		i += (size_t)k;
	}
	return n;
}

static uint32_t pow2_at_least(size_t n)
{
	uint32_t p = 1024;
	while (p < n)
		p <<= 1;
	return p;
}

uint32_t infty_tok_vocab_find(const struct infty_tokenizer *t, const char *s, size_t n)
{
	uint64_t h = tok_hash(s, n);
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint32_t i = (uint32_t)h & t->vocab_mask;; i = (i + 1) & t->vocab_mask) {
		uint64_t v = t->vocab_slots[i];
		if (!v)
			return TOK_NONE;
		if ((uint32_t)(v >> 32) == tag) {
			uint32_t id = (uint32_t)v - 1;
			size_t l;
			const char *b = tok_bytes(t, id, &l);
			if (l == n && memcmp(b, s, n) == 0)
				return id;
		}
	}
}

static void vocab_insert(struct infty_tokenizer *t, uint32_t id)
{
	size_t n;
	const char *s = tok_bytes(t, id, &n);
	uint64_t h = tok_hash(s, n);
	uint32_t i = (uint32_t)h & t->vocab_mask;
	while (t->vocab_slots[i])
		i = (i + 1) & t->vocab_mask;
	t->vocab_slots[i] = (h >> 32) << 32 | (uint64_t)(id + 1);
}

/* Insert a merge; returns 0, or 1 if the pair was already there (HF keeps
 * the first rank of a duplicated merge, and so do we). */
static int pair_insert(struct infty_tokenizer *t, uint32_t a, uint32_t b, uint32_t rank,
                       uint32_t new_id)
{
	uint64_t key = (uint64_t)a << 32 | b;
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;
	uint32_t i = (uint32_t)(h >> 32) & t->pair_mask;
	while (t->pair_keys[i] != UINT64_MAX) {
		if (t->pair_keys[i] == key)
			return 1;
		i = (i + 1) & t->pair_mask;
	}
	t->pair_keys[i] = key;
	t->pair_rank[i] = rank;
	t->pair_new[i] = new_id;
	return 0;
}

/* Code points near which NFC may change the text (tok_nfc.h): text
 * without any of them is its own NFC, so most spans are never copied. */
static int build_nfc_bitmap(struct infty_tokenizer *t)
{
	t->nfc_unstable = infty_calloc(0x110000 / 8, 1);
	if (!t->nfc_unstable)
		return INFTY_ENOMEM;
	return infty_tok_nfc_unstable(t->nfc_unstable);
}

/* The file's bytes: mapped when the file can be, so there is no copy and
 * the pages come from the page cache instead of 2,800 fresh ones (page
 * faults are much of a load's cost on a VM); otherwise read into memory.
 * *mapped says which, for release_file. */
static int read_file(const char *path, char **buf, size_t *len, int *mapped, char *detail,
                     size_t dn)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_detail(detail, dn, "cannot open: %s", strerror(errno));
		return INFTY_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		set_detail(detail, dn, "cannot stat: %s", strerror(errno));
		close(fd);
		return INFTY_EIO;
	}
	size_t n = (size_t)st.st_size;
	if (S_ISREG(st.st_mode) && n > 0) {
		void *m = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			close(fd);
			*buf = m;
			*len = n;
			*mapped = 1;
			return 0;
		}
	}
	char *b = infty_malloc(n + 1);
	if (!b) {
		close(fd);
		return INFTY_ENOMEM;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			set_detail(detail, dn, "read error: %s",
			           r < 0 ? strerror(errno) : "file shrank while read");
			infty_free(b);
			close(fd);
			return INFTY_EIO;
		}
		got += (size_t)r;
	}
	close(fd);
	*buf = b;
	*len = n;
	*mapped = 0;
	return 0;
}

static void release_file(char *buf, size_t len, int mapped)
{
	if (mapped)
		munmap(buf, len);
	else
		infty_free(buf);
}

/* ---- the load, phase by phase ----------------------------------------------
 * infty_tokenizer_load runs the phases below in order; each reads one part
 * of tokenizer.json into the tokenizer or into the loader, and returns 0 or
 * an error with its detail.  Whatever a phase allocates that the tokenizer
 * does not keep lives in the loader, which one function releases, whichever
 * phase failed (the tokenizer is freed whole on failure).
 *
 * What the file says is read as strictly as Hugging Face tokenizers reads it
 * (serde): a member of the wrong JSON type is an error, not a default. */

struct vocab_entry {
	const char *s;
	size_t len;
};

struct vocab_pair {
	const char *s; /* into the file or the document's pool */
	size_t len;
	uint32_t id;
};

struct merge {
	const char *a, *b; /* into the file or the document's pool */
	size_t al, bl;
};

/* An added token as the file gives it (its id is HF's to choose). */
struct added_in {
	const char *content; /* borrowed from the document */
	size_t len;
	int single_word, lstrip, rstrip, normalized, special;
};

struct loader {
	const char *path;
	char *buf; /* the file: mapped or owned (release_file) */
	size_t len;
	int mapped;
	struct tok_doc doc; /* owned once parsed */
	int have_doc;
	char *detail;
	size_t dn;
	int16_t byte_of_cp[324];

	struct vocab_pair *pairs; /* owned: model.vocab in file order */
	size_t n_vocab;
	int64_t max_id;
	struct added_in *ain; /* owned: added_tokens in file order */
	size_t n_ain;
	struct vocab_entry *ent; /* owned: vocabulary string of each id */
	const char **acont;      /* owned: added content of each id */
	struct merge *mv;        /* owned: model.merges in file order */
	size_t nm;
};

static void loader_release(struct loader *ld)
{
	infty_free(ld->pairs);
	infty_free(ld->ain);
	infty_free(ld->ent);
	infty_free(ld->acont);
	infty_free(ld->mv);
	if (ld->have_doc)
		tok_doc_free(&ld->doc);
	if (ld->buf)
		release_file(ld->buf, ld->len, ld->mapped);
}

/* Set the detail and return rc: every refusal is one statement. */
static int fail(struct loader *ld, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct loader *ld, int rc, const char *fmt, ...)
{
	if (ld->detail && ld->dn) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ld->detail, ld->dn, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* How a boolean member may be missing, as HF's structures declare it. */
enum flag_kind {
	FLAG_REQUIRED, /* absent or null: an error */
	FLAG_OPTIONAL, /* absent: the default; null: an error */
	FLAG_NULLABLE, /* absent or null: the default */
};

/* The boolean member key of o (named where in messages) into *out.  A value
 * of another type, or a missing required one, is INFTY_ESCHEMA: HF refuses
 * the file, where json_object_get_boolean would have read "no" as true. */
static int get_flag(struct loader *ld, struct json_object *o, const char *where, const char *key,
                    enum flag_kind kind, int dflt, int *out)
{
	struct json_object *v = NULL;
	int present = json_object_object_get_ex(o, key, &v);
	*out = dflt;
	if (present && json_object_is_type(v, json_type_boolean)) {
		*out = json_object_get_boolean(v);
		return 0;
	}
	if (present && v)
		return fail(ld, INFTY_ESCHEMA, "%s.%s is not true or false", where, key);
	if (kind == FLAG_REQUIRED && !present)
		return fail(ld, INFTY_ESCHEMA, "%s lacks '%s'", where, key);
	if (present && kind != FLAG_NULLABLE)
		return fail(ld, INFTY_ESCHEMA, "%s.%s is null, not true or false", where, key);
	return 0;
}

/* A string member that must be absent, null or empty (else what). */
static int want_empty(struct loader *ld, struct json_object *o, const char *where, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(ld, INFTY_ESCHEMA, "%s.%s is not a string", where, key);
	if (json_object_get_string_len(v))
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported %s.%s '%s'", where, key,
		            json_object_get_string(v));
	return 0;
}

static int check_bytelevel(struct loader *ld, struct json_object *o, int want_regex)
{
	int prefix, regex;
	int rc = get_flag(ld, o, "pre_tokenizer ByteLevel", "add_prefix_space", FLAG_REQUIRED, 0,
	                  &prefix);
	if (!rc)
		rc = get_flag(ld, o, "pre_tokenizer ByteLevel", "use_regex", FLAG_OPTIONAL, 1,
		              &regex);
	if (rc)
		return rc;
	if (prefix)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported ByteLevel add_prefix_space:true");
	if (regex != want_regex)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported ByteLevel use_regex:%s here",
		            want_regex ? "false" : "true");
	return 0;
}

/* A Split of the pattern we know: behavior Isolated, not inverted. */
static int check_split(struct loader *ld, struct json_object *split, const char **regex)
{
	int invert;
	int rc = get_flag(ld, split, "pre_tokenizer Split", "invert", FLAG_REQUIRED, 0, &invert);
	if (rc)
		return rc;
	const char *beh = get_str(split, "behavior");
	if (!beh || strcmp(beh, "Isolated") != 0)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported Split behavior '%s'",
		            beh ? beh : "?");
	if (invert)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported Split invert:true");
	struct json_object *pat;
	*regex = NULL;
	if (json_object_object_get_ex(split, "pattern", &pat))
		*regex = get_str(pat, "Regex");
	if (!*regex)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported Split pattern (not a Regex)");
	return 0;
}

static int set_pattern(struct infty_tokenizer *t, struct loader *ld, const char *regex)
{
	for (size_t i = 0; i < sizeof known_patterns / sizeof known_patterns[0]; i++)
		if (strcmp(regex, known_patterns[i].regex) == 0) {
			t->pat = known_patterns[i].pat;
			return 0;
		}
	return fail(ld, INFTY_EUNSUPPORTED, "unsupported pre_tokenizer pattern '%.120s'", regex);
}

/* DeepSeek-V3's three Splits, exactly (the encoder implements them). */
static const char *const deepseek_regex[3] = {
    "\\p{N}{1,3}",
    "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+",
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};

static int parse_deepseek(struct infty_tokenizer *t, struct loader *ld, struct json_object *seq)
{
	for (int i = 0; i < 3; i++) {
		struct json_object *sp = json_object_array_get_idx(seq, (size_t)i);
		const char *st = get_str(sp, "type"), *rx = NULL;
		if (!st || strcmp(st, "Split"))
			return fail(ld, INFTY_EUNSUPPORTED,
			            "unsupported pre_tokenizer: a Sequence of 4 (%d: '%s')", i + 1,
			            st ? st : "?");
		int rc = check_split(ld, sp, &rx);
		if (rc)
			return rc;
		if (strcmp(rx, deepseek_regex[i]))
			return fail(
			    ld, INFTY_EUNSUPPORTED,
			    "unsupported pre_tokenizer: a Sequence of 4 (Split %d: '%.80s')", i + 1,
			    rx);
	}
	struct json_object *bl = json_object_array_get_idx(seq, 3);
	const char *bt = get_str(bl, "type");
	if (!bt || strcmp(bt, "ByteLevel"))
		return fail(ld, INFTY_EUNSUPPORTED,
		            "unsupported pre_tokenizer: a Sequence of 4 ending in '%s'",
		            bt ? bt : "?");
	int rc = check_bytelevel(ld, bl, 0);
	if (rc)
		return rc;
	memset(&t->pat, 0, sizeof t->pat);
	t->pat.deepseek = 1;
	return 0;
}

/* Phase: the pre-tokenizer.  Sequence[Split{Regex, Isolated},
 * ByteLevel{use_regex:false}], DeepSeek-V3's Sequence of four, or a
 * ByteLevel{use_regex:true} alone (or in a one-element Sequence). */
static int parse_pre_tokenizer(struct infty_tokenizer *t, struct loader *ld, struct json_object *pt)
{
	const char *type = get_str(pt, "type");
	if (!type)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported pre_tokenizer: none");
	if (strcmp(type, "ByteLevel") == 0) {
		int rc = check_bytelevel(ld, pt, 1);
		return rc ? rc : set_pattern(t, ld, known_patterns[2].regex);
	}
	struct json_object *seq;
	if (strcmp(type, "Sequence") != 0 ||
	    !json_object_object_get_ex(pt, "pretokenizers", &seq) ||
	    !json_object_is_type(seq, json_type_array))
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported pre_tokenizer type '%s'", type);
	size_t n = json_object_array_length(seq);
	if (n == 1)
		return parse_pre_tokenizer(t, ld, json_object_array_get_idx(seq, 0));
	if (n == 4)
		return parse_deepseek(t, ld, seq);
	if (n != 2)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported pre_tokenizer: a Sequence of %zu",
		            n);
	struct json_object *split = json_object_array_get_idx(seq, 0);
	struct json_object *bl = json_object_array_get_idx(seq, 1);
	const char *st = get_str(split, "type"), *bt = get_str(bl, "type");
	if (!st || strcmp(st, "Split") != 0 || !bt || strcmp(bt, "ByteLevel") != 0)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported pre_tokenizer Sequence [%s, %s]",
		            st ? st : "?", bt ? bt : "?");
	const char *regex;
	int rc = check_bytelevel(ld, bl, 0);
	if (!rc)
		rc = check_split(ld, split, &regex);
	return rc ? rc : set_pattern(t, ld, regex);
}

/* Phase: the normalizer: none, NFC, or a Sequence of those. */
static int parse_normalizer(struct infty_tokenizer *t, struct loader *ld, struct json_object *nz)
{
	if (!nz)
		return 0;
	const char *type = get_str(nz, "type");
	if (type && strcmp(type, "NFC") == 0) {
		t->nfc = 1;
		return 0;
	}
	struct json_object *seq;
	if (type && strcmp(type, "Sequence") == 0 &&
	    json_object_object_get_ex(nz, "normalizers", &seq) &&
	    json_object_is_type(seq, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(seq); i++) {
			int rc = parse_normalizer(t, ld, json_object_array_get_idx(seq, i));
			if (rc)
				return rc;
		}
		return 0;
	}
	return fail(ld, INFTY_EUNSUPPORTED, "unsupported normalizer '%s'", type ? type : "?");
}

/* The cursor's syntax error in a raw member, as load errors. */
static int cur_error(struct loader *ld, const struct tok_cur *c, const char *what)
{
	if (c->nomem)
		return INFTY_ENOMEM;
	return fail(ld, INFTY_EJSON, "bad JSON in model.%s at byte %zu: %s", what,
	            (size_t)(c->p - ld->buf), c->err ? c->err : "?");
}

/* Shorten a token for a message. */
#define TOKFMT       "'%.*s'"
#define TOKARG(s, n) (int)((n) < 40 ? (n) : 40), (s)

/* Phase: the document's top level (model.vocab and model.merges stay raw). */
static int parse_document(struct loader *ld)
{
	char why[200];
	int rc = tok_doc_parse(&ld->doc, ld->buf, ld->len, why, sizeof why);
	if (rc == INFTY_EJSON)
		return fail(ld, rc, "'%s' is not a JSON object: %s", ld->path, why);
	if (rc)
		return rc;
	ld->have_doc = 1;
	return 0;
}

/* Phase: the document's members around the pipeline.  HF reads only version
 * "1.0".  truncation and padding are refused rather than honoured: HF would
 * cut every text to max_length or pad it with pad_id, so a count would no
 * longer be the text's, and a segmenter needs the text's. */
static int check_document(struct loader *ld)
{
	struct json_object *root = ld->doc.root, *v;
	if (!ld->doc.model)
		return fail(ld, INFTY_ESCHEMA, "no 'model' object in tokenizer.json");
	if (json_object_object_get_ex(root, "version", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return fail(ld, INFTY_ESCHEMA, "'version' is not a string");
		if (strcmp(json_object_get_string(v), "1.0") != 0)
			return fail(
			    ld, INFTY_EUNSUPPORTED,
			    "unknown tokenizer.json version '%.20s' (Hugging Face reads 1.0)",
			    json_object_get_string(v));
	}
	if (json_object_object_get_ex(root, "truncation", &v) && v) {
		struct json_object *ml = NULL;
		json_object_object_get_ex(v, "max_length", &ml);
		return fail(ld, INFTY_EUNSUPPORTED,
		            "unsupported truncation (max_length %s): Hugging Face would cut every "
		            "text to it; set \"truncation\": null",
		            ml ? json_object_to_json_string(ml) : "?");
	}
	if (json_object_object_get_ex(root, "padding", &v) && v)
		return fail(
		    ld, INFTY_EUNSUPPORTED,
		    "unsupported padding: Hugging Face would add pad ids to every text; set "
		    "\"padding\": null");
	return 0;
}

/* Phase: the model's type and options, which we implement or refuse. */
static int check_model(struct infty_tokenizer *t, struct loader *ld)
{
	struct json_object *model = ld->doc.model, *v;
	const char *type = get_str(model, "type");
	if (!type || strcmp(type, "BPE") != 0)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported model type '%s'",
		            type ? type : "?");
	int byte_fallback, rc;
	if ((rc =
	         get_flag(ld, model, "model", "byte_fallback", FLAG_NULLABLE, 0, &byte_fallback)) ||
	    (rc = get_flag(ld, model, "model", "ignore_merges", FLAG_NULLABLE, 0,
	                   &t->ignore_merges)) ||
	    (rc = want_empty(ld, model, "model", "continuing_subword_prefix")) ||
	    (rc = want_empty(ld, model, "model", "end_of_word_suffix")))
		return rc;
	if (byte_fallback)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported model option byte_fallback:true");
	if (json_object_object_get_ex(model, "dropout", &v) && v) {
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
			return fail(ld, INFTY_ESCHEMA, "model.dropout is not a number");
		if (json_object_get_double(v) != 0.0)
			return fail(ld, INFTY_EUNSUPPORTED, "unsupported model option dropout");
	}
	struct tok_cur vc = {ld->doc.vocab, ld->doc.vocab_end, NULL, 0, &ld->doc.pool};
	struct tok_cur mc = {ld->doc.merges, ld->doc.merges_end, NULL, 0, &ld->doc.pool};
	if (!ld->doc.vocab || tok_cur_peek(&vc) != '{' || !ld->doc.merges ||
	    tok_cur_peek(&mc) != '[')
		return fail(ld, INFTY_ESCHEMA, "model lacks 'vocab' or 'merges'");
	return 0;
}

/* Phase: model.vocab into (string, id) pairs, and the largest id. */
static int read_vocab(struct loader *ld)
{
	struct tok_cur vc = {ld->doc.vocab, ld->doc.vocab_end, NULL, 0, &ld->doc.pool};
	size_t pcap = 0;
	int more;
	ld->max_id = -1;
	tok_cur_enter(&vc, '{');
	while ((more = tok_cur_next(&vc, '}', &ld->n_vocab)) == 1) {
		const char *key;
		size_t klen;
		uint64_t id;
		if (tok_cur_string(&vc, &key, &klen) || tok_cur_colon(&vc))
			break;
		int r = tok_cur_uint(&vc, INT32_MAX - 1, &id);
		if (r < 0)
			break;
		if (r > 0)
			return fail(ld, INFTY_ESCHEMA, "bad vocab id for " TOKFMT,
			            TOKARG(key, klen));
		if (infty_grow(&ld->pairs, &pcap, ld->n_vocab, sizeof *ld->pairs))
			return INFTY_ENOMEM;
		if ((int64_t)id > ld->max_id)
			ld->max_id = (int64_t)id;
		ld->pairs[ld->n_vocab - 1] = (struct vocab_pair){key, klen, (uint32_t)id};
	}
	return more ? cur_error(ld, &vc, "vocab") : 0;
}

/* Phase: added_tokens as the file gives them, every member checked as HF
 * checks it: an array of objects with an id (0 to 2^32-1), a string
 * content and the five flags, each true or false. */
static int read_added_tokens(struct loader *ld)
{
	struct json_object *arr;
	if (!json_object_object_get_ex(ld->doc.root, "added_tokens", &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return fail(ld, INFTY_ESCHEMA, "added_tokens is not an array");
	size_t n = json_object_array_length(arr);
	ld->ain = infty_calloc(n ? n : 1, sizeof *ld->ain);
	if (!ld->ain)
		return INFTY_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(arr, i), *v;
		char where[40];
		snprintf(where, sizeof where, "added_tokens[%zu]", i);
		if (!json_object_is_type(a, json_type_object))
			return fail(ld, INFTY_ESCHEMA, "%s is not an object", where);
		if (!json_object_object_get_ex(a, "id", &v))
			return fail(ld, INFTY_ESCHEMA, "%s lacks 'id'", where);
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > (int64_t)UINT32_MAX)
			return fail(ld, INFTY_ESCHEMA, "%s.id is not an integer from 0 to 2^32-1",
			            where);
		if (!json_object_object_get_ex(a, "content", &v))
			return fail(ld, INFTY_ESCHEMA, "%s lacks 'content'", where);
		if (!json_object_is_type(v, json_type_string))
			return fail(ld, INFTY_ESCHEMA, "%s.content is not a string", where);
		struct added_in *in = &ld->ain[ld->n_ain++];
		in->content = json_object_get_string(v);
		in->len = (size_t)json_object_get_string_len(v);
		int rc;
		if ((rc = get_flag(ld, a, where, "single_word", FLAG_REQUIRED, 0,
		                   &in->single_word)) ||
		    (rc = get_flag(ld, a, where, "lstrip", FLAG_REQUIRED, 0, &in->lstrip)) ||
		    (rc = get_flag(ld, a, where, "rstrip", FLAG_REQUIRED, 0, &in->rstrip)) ||
		    (rc =
		         get_flag(ld, a, where, "normalized", FLAG_REQUIRED, 0, &in->normalized)) ||
		    (rc = get_flag(ld, a, where, "special", FLAG_REQUIRED, 0, &in->special)))
			return rc;
	}
	return 0;
}

static int same_added(const struct added_in *a, const struct added_in *b)
{
	return a->len == b->len && memcmp(a->content, b->content, a->len) == 0 &&
	       a->single_word == b->single_word && a->lstrip == b->lstrip &&
	       a->rstrip == b->rstrip && a->normalized == b->normalized && a->special == b->special;
}

/* For each of the n added tokens, the id of the vocabulary key equal to its
 * content (keys are in the byte-level alphabet: a content "Ġab" is the key
 * of the token of " ab"), or TOK_NONE, into key_id.  One pass over the
 * vocabulary against a small table of the contents: a table of the whole
 * vocabulary would cost more at load than everything else in this phase. */
static int added_key_ids(const struct tok_added *added, size_t n, const struct loader *ld,
                         uint32_t *key_id)
{
	uint32_t mask = pow2_at_least(n * 2) - 1;
	uint32_t *slot = infty_calloc((size_t)mask + 1, sizeof *slot); /* 1 + index; 0 empty */
	if (!slot)
		return INFTY_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		key_id[i] = TOK_NONE;
		uint32_t s = (uint32_t)tok_hash(added[i].content, added[i].len) & mask;
		while (slot[s])
			s = (s + 1) & mask;
		slot[s] = (uint32_t)i + 1;
	}
	for (size_t v = 0; v < ld->n_vocab; v++) {
		const struct vocab_pair *p = &ld->pairs[v];
		for (uint32_t s = (uint32_t)tok_hash(p->s, p->len) & mask; slot[s];
		     s = (s + 1) & mask) {
			const struct tok_added *a = &added[slot[s] - 1];
			if (a->len == p->len && memcmp(a->content, p->s, p->len) == 0 &&
			    key_id[slot[s] - 1] == TOK_NONE)
				key_id[slot[s] - 1] = p->id;
		}
	}
	infty_free(slot);
	return 0;
}

/* Phase: the added tokens' ids, as HF gives them (AddedVocabulary::
 * add_tokens): the id in the file is not used.  A content that is a
 * vocabulary key gets that key's id; a content seen before keeps its id
 * and takes the later token's flags; a token identical to an earlier one,
 * or with empty content, is skipped; any other gets the next id from the
 * vocabulary's size on (its number of entries, not its largest id), one
 * after another in file order. */
static int assign_added_ids(struct infty_tokenizer *t, struct loader *ld)
{
	if (!ld->n_ain)
		return 0;
	t->added = infty_calloc(ld->n_ain, sizeof *t->added);
	if (!t->added)
		return INFTY_ENOMEM;
	/* The distinct contents, in order of first appearance, with the flags
	 * of their last distinct token. */
	for (size_t i = 0; i < ld->n_ain; i++) {
		const struct added_in *in = &ld->ain[i];
		size_t j = 0;
		while (j < i && !same_added(&ld->ain[j], in))
			j++;
		if (!in->len || j < i)
			continue;
		struct tok_added *ad = NULL;
		for (size_t m = 0; m < t->n_added && !ad; m++)
			if (t->added[m].len == in->len &&
			    !memcmp(t->added[m].content, in->content, in->len))
				ad = &t->added[m];
		if (!ad) {
			ad = &t->added[t->n_added++];
			if (!(ad->content = infty_strndup(in->content, in->len)))
				return INFTY_ENOMEM;
			ad->len = in->len;
		}
		ad->lstrip = in->lstrip;
		ad->rstrip = in->rstrip;
		ad->special = in->special;
		ad->single_word = in->single_word;
		ad->normalized = in->normalized;
	}
	uint32_t *key_id = infty_malloc((t->n_added ? t->n_added : 1) * sizeof *key_id);
	int rc = key_id ? added_key_ids(t->added, t->n_added, ld, key_id) : INFTY_ENOMEM;
	uint32_t next_id = (uint32_t)ld->n_vocab;
	for (size_t i = 0; i < t->n_added && !rc; i++) {
		struct tok_added *ad = &t->added[i];
		ad->id = key_id[i] != TOK_NONE ? key_id[i] : next_id++;
		if (ad->single_word)
			rc = fail(ld, INFTY_EUNSUPPORTED,
			          "unsupported added token option single_word ('%s')", ad->content);
		/* HF would match it in the NFC text; we match raw text only. */
		else if (ad->normalized && t->nfc)
			rc = fail(ld, INFTY_EUNSUPPORTED,
			          "unsupported normalized added token '%s' with NFC", ad->content);
		else if (next_id >= INT32_MAX - 1)
			rc = fail(ld, INFTY_ETOOBIG, "too many added tokens");
		t->added_first[(unsigned char)ad->content[0]] = 1;
		t->n_normalized += ad->normalized != 0;
		if ((int64_t)ad->id > ld->max_id)
			ld->max_id = ad->id;
	}
	infty_free(key_id);
	return rc;
}

/* Phase: every id's bytes in one arena.  A vocabulary token's are its key
 * byte-level decoded; an added token's are its content, or, when it is also
 * a vocabulary token ("Hello" at its vocabulary id), the vocabulary's bytes,
 * so that merges reach it; is_added says which (tokenizer_impl.h). */
static int build_ids(struct infty_tokenizer *t, struct loader *ld)
{
	t->n_ids = (uint32_t)(ld->max_id + 1);
	t->vocab_size = ld->n_vocab;
	ld->ent = infty_calloc(t->n_ids, sizeof *ld->ent);
	ld->acont = infty_calloc(t->n_ids, sizeof *ld->acont);
	t->tok_off = infty_calloc((size_t)t->n_ids + 1, sizeof *t->tok_off);
	t->is_added = infty_malloc(t->n_ids);
	if (!ld->ent || !ld->acont || !t->tok_off || !t->is_added)
		return INFTY_ENOMEM;
	memset(t->is_added, TOK_ID_NONE, t->n_ids);
	size_t total = 0;
	for (size_t i = 0; i < ld->n_vocab; i++) {
		uint32_t id = ld->pairs[i].id;
		if (ld->ent[id].s)
			return fail(ld, INFTY_ESCHEMA, "duplicate vocab id %u", id);
		ld->ent[id].s = ld->pairs[i].s;
		ld->ent[id].len = ld->pairs[i].len;
		t->is_added[id] = TOK_ID_VOCAB;
		total += ld->ent[id].len;
	}
	for (size_t i = 0; i < t->n_added; i++) {
		const struct tok_added *ad = &t->added[i];
		const struct vocab_entry *e = &ld->ent[ad->id];
		/* HF numbers new added tokens from the vocabulary's size, which
		 * can be an id the vocabulary uses when its ids have gaps: HF
		 * then gives two tokens one id, which we cannot decode. */
		if (e->s && (e->len != ad->len || memcmp(e->s, ad->content, ad->len)))
			return fail(ld, INFTY_EUNSUPPORTED,
			            "added token '%s' gets id %u from Hugging Face, which the "
			            "vocabulary already gives to " TOKFMT,
			            ad->content, ad->id, TOKARG(e->s, e->len));
		ld->acont[ad->id] = ad->content;
		total += ad->len;
	}
	if (total >= UINT32_MAX)
		return INFTY_ETOOBIG;
	t->arena = infty_malloc(total + 1);
	if (!t->arena)
		return INFTY_ENOMEM;
	uint32_t off = 0;
	for (uint32_t id = 0; id < t->n_ids; id++) {
		t->tok_off[id] = off;
		const struct vocab_entry *e = &ld->ent[id];
		long l = e->s ? bytelevel_decode(ld->byte_of_cp, e->s, e->len, t->arena + off) : -1;
		if (ld->acont[id]) {
			/* Both, and a key outside the byte alphabet (DeepSeek-V3's
			 * "<｜begin▁of▁sentence｜>"): only the added token. */
			if (l >= 0) {
				t->is_added[id] = TOK_ID_BOTH;
			} else {
				l = (long)strlen(ld->acont[id]);
				memcpy(t->arena + off, ld->acont[id], (size_t)l);
				t->is_added[id] = TOK_ID_ADDED;
			}
		} else if (e->s && l < 0) {
			return fail(ld, INFTY_EUNSUPPORTED,
			            "vocab token " TOKFMT " is not byte-level",
			            TOKARG(e->s, e->len));
		}
		off += l > 0 ? (uint32_t)l : 0;
	}
	t->tok_off[t->n_ids] = off;
	return 0;
}

/* Phase: bytes -> id over the model vocabulary, and the 256 byte tokens. */
static int index_vocab(struct infty_tokenizer *t, struct loader *ld)
{
	t->vocab_mask = pow2_at_least(ld->n_vocab * 2) - 1;
	t->vocab_slots = infty_calloc((size_t)t->vocab_mask + 1, sizeof *t->vocab_slots);
	t->self_enc = infty_calloc(t->n_ids, 1);
	if (!t->vocab_slots || !t->self_enc)
		return INFTY_ENOMEM;
	for (uint32_t id = 0; id < t->n_ids; id++)
		if (t->is_added[id] == TOK_ID_VOCAB || t->is_added[id] == TOK_ID_BOTH)
			vocab_insert(t, id);
	for (int b = 0; b < 256; b++) {
		char c = (char)b;
		t->byte_id[b] = infty_tok_vocab_find(t, &c, 1);
		if (t->byte_id[b] == TOK_NONE)
			return fail(ld, INFTY_EUNSUPPORTED, "vocab lacks the token for byte 0x%02x",
			            b);
	}
	return 0;
}

/* Phase: model.merges, as "a b" strings (legacy) or ["a", "b"] pairs, all
 * read first for the table size. */
static int read_merges(struct loader *ld)
{
	struct tok_cur mc = {ld->doc.merges, ld->doc.merges_end, NULL, 0, &ld->doc.pool};
	size_t mcap = 0;
	int more;
	tok_cur_enter(&mc, '[');
	while ((more = tok_cur_next(&mc, ']', &ld->nm)) == 1) {
		if (infty_grow(&ld->mv, &mcap, ld->nm, sizeof *ld->mv))
			return INFTY_ENOMEM;
		struct merge *m = &ld->mv[ld->nm - 1];
		char ch = tok_cur_peek(&mc);
		if (ch == '"') {
			const char *sp;
			if (tok_cur_string(&mc, &m->a, &m->al))
				break;
			if (!(sp = memchr(m->a, ' ', m->al)) ||
			    memchr(sp + 1, ' ', m->al - (size_t)(sp + 1 - m->a)))
				return fail(ld, INFTY_ESCHEMA, "merge %zu " TOKFMT " is not 'a b'",
				            ld->nm - 1, TOKARG(m->a, m->al));
			m->b = sp + 1;
			m->bl = m->al - (size_t)(sp + 1 - m->a);
			m->al = (size_t)(sp - m->a);
		} else if (ch == '[') {
			size_t k = 0;
			tok_cur_enter(&mc, '[');
			if (tok_cur_next(&mc, ']', &k) != 1 || tok_cur_peek(&mc) != '"' ||
			    tok_cur_string(&mc, &m->a, &m->al) || tok_cur_next(&mc, ']', &k) != 1 ||
			    tok_cur_peek(&mc) != '"' || tok_cur_string(&mc, &m->b, &m->bl) ||
			    tok_cur_next(&mc, ']', &k) != 0) {
				if (mc.err)
					break;
				ch = 0; /* well-formed, but not two strings */
			}
		}
		if (ch != '"' && ch != '[')
			return fail(ld, INFTY_ESCHEMA, "merge %zu is neither 'a b' nor [a, b]",
			            ld->nm - 1);
	}
	return more ? cur_error(ld, &mc, "merges") : 0;
}

/* Phase: the merges as a (left, right) -> (rank, merged id) table. */
static int index_merges(struct infty_tokenizer *t, struct loader *ld)
{
	t->pair_mask = pow2_at_least(ld->nm * 2 + 2) - 1;
	size_t slots = (size_t)t->pair_mask + 1;
	t->pair_keys = infty_malloc(slots * sizeof *t->pair_keys);
	t->pair_rank = infty_malloc(slots * sizeof *t->pair_rank);
	t->pair_new = infty_malloc(slots * sizeof *t->pair_new);
	if (!t->pair_keys || !t->pair_rank || !t->pair_new)
		return INFTY_ENOMEM;
	memset(t->pair_keys, 0xff, slots * sizeof *t->pair_keys);
	char buf[1024];
	for (size_t i = 0; i < ld->nm; i++) {
		const struct merge *m = &ld->mv[i];
		if (m->al + m->bl > sizeof buf)
			return fail(ld, INFTY_ETOOBIG, "merge %zu is too long", i);
		long la = bytelevel_decode(ld->byte_of_cp, m->a, m->al, buf);
		long lb = la < 0 ? -1 : bytelevel_decode(ld->byte_of_cp, m->b, m->bl, buf + la);
		if (la <= 0 || lb <= 0)
			return fail(ld, INFTY_ESCHEMA,
			            "merge %zu has a token outside the byte alphabet", i);
		uint32_t ia = infty_tok_vocab_find(t, buf, (size_t)la);
		uint32_t ib = infty_tok_vocab_find(t, buf + la, (size_t)lb);
		uint32_t inew = infty_tok_vocab_find(t, buf, (size_t)(la + lb));
		if (ia == TOK_NONE || ib == TOK_NONE || inew == TOK_NONE)
			return fail(ld, INFTY_ESCHEMA,
			            "merge %zu (" TOKFMT " + " TOKFMT ") uses a token not in vocab",
			            i, TOKARG(m->a, m->al), TOKARG(m->b, m->bl));
		if (pair_insert(t, ia, ib, (uint32_t)i, inew) == 0)
			t->n_merges++;
	}
	return 0;
}

int infty_tokenizer_load(struct infty_tokenizer **out, const char *path, char *detail,
                         size_t detail_len)
{
	*out = NULL;
	set_detail(detail, detail_len, "%s", "");
	struct loader ld = {.path = path, .detail = detail, .dn = detail_len};
	init_byte_map(ld.byte_of_cp);
	struct infty_tokenizer *t = NULL;
	int rc = read_file(path, &ld.buf, &ld.len, &ld.mapped, detail, detail_len);
	if (rc) {
		ld.buf = NULL;
		goto out;
	}
	if (!(t = infty_calloc(1, sizeof *t))) {
		rc = INFTY_ENOMEM;
		goto out;
	}
	memcpy(t->hash, "sha256:", 7);
	infty_sha256_hex(ld.buf, ld.len, t->hash + 7);
	struct json_object *nz = NULL, *pt = NULL;
	if ((rc = parse_document(&ld)) || (rc = check_document(&ld)))
		goto out;
	json_object_object_get_ex(ld.doc.root, "normalizer", &nz);
	json_object_object_get_ex(ld.doc.root, "pre_tokenizer", &pt);
	if ((rc = parse_normalizer(t, &ld, nz)) || (rc = parse_pre_tokenizer(t, &ld, pt)) ||
	    (rc = check_model(t, &ld)) || (rc = read_vocab(&ld)) || (rc = read_added_tokens(&ld)) ||
	    (rc = assign_added_ids(t, &ld)) || (rc = build_ids(t, &ld)) ||
	    (rc = index_vocab(t, &ld)) || (rc = read_merges(&ld)) || (rc = index_merges(t, &ld)))
		goto out;
	if (t->nfc)
		rc = build_nfc_bitmap(t);
out:
	loader_release(&ld);
	if (rc) {
		if (rc == INFTY_ENOMEM && detail && !detail[0])
			set_detail(detail, detail_len, "out of memory loading '%s'", path);
		infty_tokenizer_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

const char *infty_tokenizer_hash(const struct infty_tokenizer *t)
{
	return t->hash;
}

size_t infty_tokenizer_vocab_size(const struct infty_tokenizer *t)
{
	return t->n_ids;
}

int infty_tokenizer_nfc(const struct infty_tokenizer *t)
{
	return t->nfc;
}

const char *infty_tokenizer_default_path(void)
{
	static char path[4200];
	const char *env = getenv("INFTY_TOKENIZER");
	if (env && *env)
		return env;
	/*
	 * A checkout's binaries use the tokenizer make fetched into the cache;
	 * an installed tree (or $INFTY_HOME) uses its own copy, never a path of
	 * the machine it was built on.
	 */
	enum infty_home_kind kind;
	const char *home = infty_path_home(&kind);
#ifdef INFTY_DEFAULT_TOKENIZER
	if (kind == INFTY_HOME_CHECKOUT ||
	    (kind == INFTY_HOME_NONE && access(INFTY_DEFAULT_TOKENIZER, R_OK) == 0))
		return INFTY_DEFAULT_TOKENIZER;
#endif
	if (home) {
		snprintf(path, sizeof path, "%s/tokenizer.json", home);
		return path;
	}
#ifdef INFTY_DATADIR
	return INFTY_DATADIR "/tokenizer.json";
#else
	return "tokenizer.json";
#endif
}

int64_t infty_tok_decode(const struct infty_tokenizer *t, const uint32_t *ids, size_t n, char *buf,
                         size_t cap)
{
	size_t need = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= t->n_ids || t->is_added[ids[i]] == TOK_ID_NONE)
			return INFTY_EINVAL;
		size_t l;
		const char *s = tok_bytes(t, ids[i], &l);
		if (need + l <= cap)
			memcpy(buf + need, s, l);
		else if (need < cap)
			memcpy(buf + need, s, cap - need);
		need += l;
	}
	return (int64_t)need;
}

int64_t infty_tok_token_id(const struct infty_tokenizer *t, const char *s, size_t len)
{
	for (size_t i = 0; i < t->n_added; i++)
		if (t->added[i].len == len && memcmp(t->added[i].content, s, len) == 0)
			return t->added[i].id;
	uint32_t id = infty_tok_vocab_find(t, s, len);
	return id == TOK_NONE ? -1 : (int64_t)id;
}
