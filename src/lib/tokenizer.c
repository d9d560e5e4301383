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

static int get_bool(struct json_object *o, const char *key, int dflt)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return dflt;
	return json_object_get_boolean(v);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Empty or absent string option. */
static int str_empty(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 1;
	return json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0;
}

static int check_bytelevel(struct json_object *o, int want_regex, char *detail, size_t dn)
{
	if (get_bool(o, "add_prefix_space", 0)) {
		set_detail(detail, dn, "unsupported ByteLevel add_prefix_space:true");
		return INFTY_EUNSUPPORTED;
	}
	if (get_bool(o, "use_regex", 1) != want_regex) {
		set_detail(detail, dn, "unsupported ByteLevel use_regex:%s here",
		           want_regex ? "false" : "true");
		return INFTY_EUNSUPPORTED;
	}
	return 0;
}

static int set_pattern(struct infty_tokenizer *t, const char *regex, char *detail, size_t dn)
{
	for (size_t i = 0; i < sizeof known_patterns / sizeof known_patterns[0]; i++)
		if (strcmp(regex, known_patterns[i].regex) == 0) {
			t->pat = known_patterns[i].pat;
			return 0;
		}
	set_detail(detail, dn, "unsupported pre_tokenizer pattern '%.120s'", regex);
	return INFTY_EUNSUPPORTED;
}

/* DeepSeek-V3's three Splits, exactly (the encoder implements them). */
static const char *const deepseek_regex[3] = {
    "\\p{N}{1,3}",
    "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+",
    "[!\"#$%&'()*+,\\-./"
    ":;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
    "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
};

static int parse_deepseek(struct infty_tokenizer *t, struct json_object *seq, char *detail,
                          size_t dn)
{
	for (int i = 0; i < 3; i++) {
		struct json_object *sp = json_object_array_get_idx(seq, (size_t)i), *pat;
		const char *st = get_str(sp, "type"), *beh = get_str(sp, "behavior"), *rx = NULL;
		if (json_object_object_get_ex(sp, "pattern", &pat))
			rx = get_str(pat, "Regex");
		if (!st || strcmp(st, "Split") || !beh || strcmp(beh, "Isolated") ||
		    get_bool(sp, "invert", 0) || !rx || strcmp(rx, deepseek_regex[i])) {
			set_detail(detail, dn,
			           "unsupported pre_tokenizer: a Sequence of 4 (Split %d: '%.80s')",
			           i + 1, rx ? rx : "?");
			return INFTY_EUNSUPPORTED;
		}
	}
	struct json_object *bl = json_object_array_get_idx(seq, 3);
	const char *bt = get_str(bl, "type");
	if (!bt || strcmp(bt, "ByteLevel")) {
		set_detail(detail, dn, "unsupported pre_tokenizer: a Sequence of 4 ending in '%s'",
		           bt ? bt : "?");
		return INFTY_EUNSUPPORTED;
	}
	int rc = check_bytelevel(bl, 0, detail, dn);
	if (rc)
		return rc;
	memset(&t->pat, 0, sizeof t->pat);
	t->pat.deepseek = 1;
	return 0;
}

/* Accept Sequence[Split{Regex, Isolated}, ByteLevel{use_regex:false}] or a
 * ByteLevel{use_regex:true} alone (or in a one-element Sequence). */
static int parse_pre_tokenizer(struct infty_tokenizer *t, struct json_object *pt, char *detail,
                               size_t dn)
{
	const char *type = get_str(pt, "type");
	if (!type) {
		set_detail(detail, dn, "unsupported pre_tokenizer: none");
		return INFTY_EUNSUPPORTED;
	}
	if (strcmp(type, "ByteLevel") == 0) {
		int rc = check_bytelevel(pt, 1, detail, dn);
		return rc ? rc : set_pattern(t, known_patterns[2].regex, detail, dn);
	}
	struct json_object *seq;
	if (strcmp(type, "Sequence") != 0 ||
	    !json_object_object_get_ex(pt, "pretokenizers", &seq) ||
	    !json_object_is_type(seq, json_type_array)) {
		set_detail(detail, dn, "unsupported pre_tokenizer type '%s'", type);
		return INFTY_EUNSUPPORTED;
	}
	size_t n = json_object_array_length(seq);
	if (n == 1)
		return parse_pre_tokenizer(t, json_object_array_get_idx(seq, 0), detail, dn);
	if (n == 4)
		return parse_deepseek(t, seq, detail, dn);
	if (n != 2) {
		set_detail(detail, dn, "unsupported pre_tokenizer: a Sequence of %zu", n);
		return INFTY_EUNSUPPORTED;
	}
	struct json_object *split = json_object_array_get_idx(seq, 0);
	struct json_object *bl = json_object_array_get_idx(seq, 1);
	const char *st = get_str(split, "type"), *bt = get_str(bl, "type");
	if (!st || strcmp(st, "Split") != 0 || !bt || strcmp(bt, "ByteLevel") != 0) {
		set_detail(detail, dn, "unsupported pre_tokenizer Sequence [%s, %s]", st ? st : "?",
		           bt ? bt : "?");
		return INFTY_EUNSUPPORTED;
	}
	int rc = check_bytelevel(bl, 0, detail, dn);
	if (rc)
		return rc;
	const char *beh = get_str(split, "behavior");
	if (!beh || strcmp(beh, "Isolated") != 0 || get_bool(split, "invert", 0)) {
		set_detail(detail, dn, "unsupported Split behavior '%s'", beh ? beh : "?");
		return INFTY_EUNSUPPORTED;
	}
	struct json_object *pat;
	const char *regex = NULL;
	if (json_object_object_get_ex(split, "pattern", &pat))
		regex = get_str(pat, "Regex");
	if (!regex) {
		set_detail(detail, dn, "unsupported Split pattern (not a Regex)");
		return INFTY_EUNSUPPORTED;
	}
	return set_pattern(t, regex, detail, dn);
}

static int parse_normalizer(struct infty_tokenizer *t, struct json_object *nz, char *detail,
                            size_t dn)
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
			int rc = parse_normalizer(t, json_object_array_get_idx(seq, i), detail, dn);
			if (rc)
				return rc;
		}
		return 0;
	}
	set_detail(detail, dn, "unsupported normalizer '%s'", type ? type : "?");
	return INFTY_EUNSUPPORTED;
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
		set_detail(detail, dn, "cannot open '%s': %s", path, strerror(errno));
		return INFTY_EIO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || st.st_size < 0) {
		set_detail(detail, dn, "cannot stat '%s': %s", path, strerror(errno));
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
			set_detail(detail, dn, "cannot read '%s': %s", path,
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

struct vocab_entry {
	const char *s;
	size_t len;
};

/* ---- the load, phase by phase ----------------------------------------------
 * infty_tokenizer_load runs the phases below in order; each reads one part
 * of tokenizer.json into the tokenizer or into the loader, and returns 0 or
 * an error with its detail.  Whatever a phase allocates that the tokenizer
 * does not keep lives in the loader, which one function releases, whichever
 * phase failed (the tokenizer is freed whole on failure). */

struct vocab_pair {
	const char *s; /* into the file or the document's pool */
	size_t len;
	uint32_t id;
};

struct merge {
	const char *a, *b; /* into the file or the document's pool */
	size_t al, bl;
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
	struct json_object *added; /* borrowed from doc: the added_tokens array */
	size_t n_added;
	struct vocab_entry *ent; /* owned: vocabulary string of each id */
	const char **acont;      /* owned: added content of each id */
	struct merge *mv;        /* owned: model.merges in file order */
	size_t nm;
};

static void loader_release(struct loader *ld)
{
	infty_free(ld->pairs);
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

/* Phase: the model's type and options, which we implement or refuse. */
static int check_model(struct infty_tokenizer *t, struct loader *ld)
{
	struct json_object *model = ld->doc.model, *v;
	if (!model)
		return fail(ld, INFTY_ESCHEMA, "no 'model' object in tokenizer.json");
	const char *type = get_str(model, "type");
	if (!type || strcmp(type, "BPE") != 0)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported model type '%s'",
		            type ? type : "?");
	if (get_bool(model, "byte_fallback", 0))
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported model option byte_fallback:true");
	if (json_object_object_get_ex(model, "dropout", &v) && v &&
	    json_object_get_double(v) != 0.0)
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported model option dropout");
	if (!str_empty(model, "continuing_subword_prefix") ||
	    !str_empty(model, "end_of_word_suffix"))
		return fail(ld, INFTY_EUNSUPPORTED, "unsupported subword prefix/suffix in model");
	t->ignore_merges = get_bool(model, "ignore_merges", 0);
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

/* Phase: added_tokens, checked, and the id range they extend. */
static int read_added_tokens(struct loader *ld)
{
	json_object_object_get_ex(ld->doc.root, "added_tokens", &ld->added);
	ld->n_added = ld->added && json_object_is_type(ld->added, json_type_array)
	                  ? json_object_array_length(ld->added)
	                  : 0;
	for (size_t i = 0; i < ld->n_added; i++) {
		struct json_object *a = json_object_array_get_idx(ld->added, i), *idv;
		if (!json_object_object_get_ex(a, "id", &idv) || !get_str(a, "content"))
			return fail(ld, INFTY_ESCHEMA, "added token %zu lacks id or content", i);
		int64_t id = json_object_get_int64(idv);
		if (id < 0 || id >= INT32_MAX)
			return fail(ld, INFTY_ESCHEMA, "bad added token id %lld", (long long)id);
		if (id > ld->max_id)
			ld->max_id = id;
	}
	return 0;
}

/* Phase: every id's bytes in one arena (vocabulary strings byte-level
 * decoded, added tokens as their content), and the added tokens' table. */
static int build_ids(struct infty_tokenizer *t, struct loader *ld)
{
	t->n_ids = (uint32_t)(ld->max_id + 1);
	t->vocab_size = ld->n_vocab;
	ld->ent = infty_calloc(t->n_ids, sizeof *ld->ent);
	ld->acont = infty_calloc(t->n_ids, sizeof *ld->acont);
	t->tok_off = infty_calloc((size_t)t->n_ids + 1, sizeof *t->tok_off);
	t->is_added = infty_malloc(t->n_ids);
	t->added = infty_calloc(ld->n_added ? ld->n_added : 1, sizeof *t->added);
	if (!ld->ent || !ld->acont || !t->tok_off || !t->is_added || !t->added)
		return INFTY_ENOMEM;
	memset(t->is_added, 2, t->n_ids); /* 2: no token has this id */
	size_t total = 0;
	for (size_t i = 0; i < ld->n_vocab; i++) {
		uint32_t id = ld->pairs[i].id;
		if (ld->ent[id].s)
			return fail(ld, INFTY_ESCHEMA, "duplicate vocab id %u", id);
		ld->ent[id].s = ld->pairs[i].s;
		ld->ent[id].len = ld->pairs[i].len;
		t->is_added[id] = 0;
		total += ld->ent[id].len;
	}
	for (size_t i = 0; i < ld->n_added; i++) {
		struct json_object *a = json_object_array_get_idx(ld->added, i), *idv;
		json_object_object_get_ex(a, "id", &idv);
		uint32_t id = (uint32_t)json_object_get_int64(idv);
		const char *content = get_str(a, "content");
		struct tok_added *ad = &t->added[t->n_added++];
		ad->len = strlen(content);
		ad->content = infty_strndup(content, ad->len);
		if (!ad->content)
			return INFTY_ENOMEM;
		ad->id = id;
		ad->lstrip = get_bool(a, "lstrip", 0);
		ad->rstrip = get_bool(a, "rstrip", 0);
		ad->special = get_bool(a, "special", 0);
		if (get_bool(a, "single_word", 0))
			return fail(ld, INFTY_EUNSUPPORTED,
			            "unsupported added token option single_word ('%s')", content);
		/* HF would match it in the NFC text; we match raw text only. */
		if (get_bool(a, "normalized", 0) && t->nfc)
			return fail(ld, INFTY_EUNSUPPORTED,
			            "unsupported normalized added token '%s' with NFC", content);
		if (ad->len == 0)
			return fail(ld, INFTY_ESCHEMA, "empty added token %u", id);
		t->added_first[(unsigned char)content[0]] = 1;
		if (t->is_added[id] == 2)
			total += ad->len;
		t->is_added[id] = 1;
		ld->ent[id].s = NULL; /* added tokens decode to their content */
	}
	if (total >= UINT32_MAX)
		return INFTY_ETOOBIG;
	t->arena = infty_malloc(total + 1);
	if (!t->arena)
		return INFTY_ENOMEM;
	for (size_t i = 0; i < t->n_added; i++)
		ld->acont[t->added[i].id] = t->added[i].content;
	uint32_t off = 0;
	for (uint32_t id = 0; id < t->n_ids; id++) {
		t->tok_off[id] = off;
		if (ld->acont[id]) {
			size_t l = strlen(ld->acont[id]);
			memcpy(t->arena + off, ld->acont[id], l);
			off += (uint32_t)l;
		} else if (ld->ent[id].s) {
			long l = bytelevel_decode(ld->byte_of_cp, ld->ent[id].s, ld->ent[id].len,
			                          t->arena + off);
			if (l < 0)
				return fail(ld, INFTY_EUNSUPPORTED,
				            "vocab token " TOKFMT " is not byte-level",
				            TOKARG(ld->ent[id].s, ld->ent[id].len));
			off += (uint32_t)l;
		}
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
		if (t->is_added[id] == 0)
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
	if ((rc = parse_document(&ld)))
		goto out;
	json_object_object_get_ex(ld.doc.root, "normalizer", &nz);
	json_object_object_get_ex(ld.doc.root, "pre_tokenizer", &pt);
	if ((rc = parse_normalizer(t, nz, detail, detail_len)) ||
	    (rc = parse_pre_tokenizer(t, pt, detail, detail_len)) || (rc = check_model(t, &ld)) ||
	    (rc = read_vocab(&ld)) || (rc = read_added_tokens(&ld)) || (rc = build_ids(t, &ld)) ||
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
	const char *env = getenv("INFTY_TOKENIZER");
	if (env && *env)
		return env;
#ifdef INFTY_DEFAULT_TOKENIZER
	if (access(INFTY_DEFAULT_TOKENIZER, R_OK) == 0)
		return INFTY_DEFAULT_TOKENIZER;
#endif
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
		if (ids[i] >= t->n_ids || t->is_added[ids[i]] == 2)
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
