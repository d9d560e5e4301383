/*
 * test_json_parse.c - the one-pass parser behind infty_json_parse() against
 * the implementation it replaced (json-c's strict tokener plus our policy
 * passes, kept as infty_json_parse_reference()): on every input the same
 * return code and, when accepted, objects that serialize to the same bytes
 * through json-c (PLAIN) and through infty_json_write.  Inputs: a table of
 * tricky lines (which also pins what each must give, so that both parsers
 * drifting the same way still fails), nesting around the depth limit,
 * whitespace variants, every truncation and every single-byte mutation of
 * sample rows, and every line of the real data in ../shared/data (the
 * corpus and the OpenR1 sample: about 3 s, 10 s under ASan), which is
 * skipped with a message when absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/lib/jsonl_parse_ref.h"
#include "infty/alloc.h"
#include "infty/error.h"
#include "infty/json_write.h"
#include "infty/jsonl.h"

#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Outcome counts of compare(), so that a test can check it saw both kinds. */
struct tally {
	size_t ok, json, utf8;
	size_t pairs; /* accepted, equal once json-c's pair bug is taken out */
};

static unsigned hex4(const char *s)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int h = c >= '0' && c <= '9'                     ? c - '0'
		        : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
		                                                 : -1;
		if (h < 0)
			return 0x10000;
		v = v << 4 | (unsigned)h;
	}
	return v;
}

/*
 * The one place the new parser means to differ: json-c 0.16 decodes an
 * escaped surrogate pair, then tests the code point (not its 16-bit
 * halves) for being a surrogate, so every character whose low 16 bits fall
 * in D800-DFFF (U+1D800-U+1DFFF, U+2D800-U+2DFFF, ... U+10D800-U+10DFFF,
 * CJK extension F among them) comes out as U+FFFD.  The new parser decodes
 * them.  This gives the line with those pairs written as raw UTF-8, which
 * json-c keeps as is, or NULL when it has none (caller frees).
 */
static char *raw_pairs(const char *s, size_t n, size_t *out_len)
{
	char *out = malloc(n + 1);
	assert_non_null(out);
	size_t k = 0;
	int found = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] != '\\' || i + 1 >= n) {
			out[k++] = s[i++];
			continue;
		}
		if (s[i + 1] == 'u' && n - i >= 12 && s[i + 6] == '\\' && s[i + 7] == 'u') {
			unsigned hi = hex4(s + i + 2), lo = hex4(s + i + 8);
			uint32_t cp = 0x10000 + ((hi & 0x3FF) << 10) + (lo & 0x3FF);
			if (hi >= 0xD800 && hi <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF &&
			    (cp & 0xF800) == 0xD800) {
				out[k++] = (char)(0xF0 | cp >> 18);
				out[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
				out[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
				out[k++] = (char)(0x80 | (cp & 0x3F));
				i += 12;
				found = 1;
				continue;
			}
		}
		/* Any escape as a unit, so that an escaped backslash before "ud836" stays text. */
		out[k++] = s[i++];
		out[k++] = s[i++];
	}
	if (!found) {
		free(out);
		return NULL;
	}
	*out_len = k;
	return out;
}

/*
 * Parse line[0..len) both ways; fail on any difference.  Returns the common
 * return code; *serial (when not NULL, and the line is accepted) gets the
 * PLAIN serialization, which the caller frees.
 */
static int compare(const char *line, size_t len, const char *what, struct tally *t, char **serial)
{
	/* A heap copy of exactly len bytes: ASan then flags any read past it. */
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, line, len);
	struct json_object *a, *b;
	char da[256], db[256];
	int ra = infty_json_parse_reference(copy, len, &a, da, sizeof da);
	int rb = infty_json_parse(copy, len, &b, db, sizeof db);
	if (ra != rb)
		fail_msg("%s: reference %d (%s), new %d (%s) on %zu bytes: %.*s", what, ra, da, rb,
		         db, len, (int)(len < 300 ? len : 300), line);
	if (ra == 0) {
		assert_non_null(b);
		const char *sa = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
		const char *sb = json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN);
		size_t rn;
		char *raw;
		if (strcmp(sa, sb) != 0 && (raw = raw_pairs(copy, len, &rn)) != NULL) {
			/* json-c's pair bug: compare with the reference on raw UTF-8. */
			json_object_put(a);
			assert_int_equal(infty_json_parse_reference(raw, rn, &a, da, sizeof da), 0);
			free(raw);
			sa = json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN);
			if (t)
				t->pairs++;
		}
		if (strcmp(sa, sb) != 0)
			fail_msg("%s: serializations differ:\n reference: %.300s\n new: %.300s",
			         what, sa, sb);
		struct infty_buf wa = {0}, wb = {0};
		assert_int_equal(infty_json_write(&wa, a), 0);
		assert_int_equal(infty_json_write(&wb, b), 0);
		if (wa.len != wb.len || memcmp(wa.data, wb.data, wa.len) != 0)
			fail_msg("%s: infty_json_write differs:\n reference: %.300s\n new: %.300s",
			         what, wa.data, wb.data);
		infty_buf_release(&wa);
		infty_buf_release(&wb);
		if (serial)
			*serial = strdup(sb);
		if (t)
			t->ok++;
	} else {
		assert_null(b);
		/* A clear one-line reason. */
		if (db[0] == '\0' || strchr(db, '\n'))
			fail_msg("%s: detail \"%s\" is empty or not one line", what, db);
		if (t)
			*(ra == INFTY_EUTF8 ? &t->utf8 : &t->json) += 1;
	}
	json_object_put(a);
	json_object_put(b);
	free(copy);
	return ra;
}

static void test_tricky_lines(void **state)
{
	(void)state;
	/* want: expected code; out: expected PLAIN serialization, or NULL. */
	static const struct {
		const char *text;
		int want;
		const char *out;
	} cases[] = {
	    /* escapes */
	    {"{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"}", 0,
	     "{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"}"},
	    {"{\"s\":\"\\u0041\\u00e9\\u20AC\\uFFFF\"}", 0,
	     "{\"s\":\"A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\"}"},
	    {"{\"s\":\"\\u0022\\u005c\\u001f\\u007f\"}", 0, "{\"s\":\"\\\"\\\\\\u001f\x7f\"}"},
	    {"{\"s\":\"\\x\"}", INFTY_EJSON, NULL},
	    {"{\"s\":\"\\'\"}", INFTY_EJSON, NULL},
	    {"{\"s\":\"\\u12\"}", INFTY_EJSON, NULL},
	    {"{\"s\":\"\\u12G4\"}", INFTY_EJSON, NULL},
	    {"{\"s\":\"\\", INFTY_EJSON, NULL},
	    {"{\"s\":\"\\u00", INFTY_EJSON, NULL},
	    {"{\"s\":\"\\\xc3\xa9\"}", INFTY_EUTF8, NULL}, /* the reference steps into é */
	    /* surrogate pairs and lone surrogates */
	    {"{\"s\":\"\\ud83d\\ude00\"}", 0, "{\"s\":\"\xf0\x9f\x98\x80\"}"},
	    {"{\"s\":\"\\uDBFF\\uDFFF\"}", 0, "{\"s\":\"\xf4\x8f\xbf\xbf\"}"},
	    /* json-c 0.16 made these U+FFFD (see raw_pairs()); decoded now */
	    {"{\"s\":\"\\ud836\\ude00\"}", 0, "{\"s\":\"\xf0\x9d\xa8\x80\"}"},
	    {"{\"s\":\"\\ud876\\udc00\\u0041\"}", 0, "{\"s\":\"\xf0\xad\xa0\x80\x41\"}"},
	    {"{\"\\uDBBF\\uDFFF\":\"\\ud836\\ude00\\ud83d\\ude00\"}", 0,
	     "{\"\xf3\xbf\xbf\xbf\":\"\xf0\x9d\xa8\x80\xf0\x9f\x98\x80\"}"},
	    {"{\"s\":\"\\\\ud836\\\\ude00\"}", 0, "{\"s\":\"\\\\ud836\\\\ude00\"}"},
	    {"{\"s\":\"\\ud800\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800x\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\udc00\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800\\u0041\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800\\n\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800\\ud800\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800\\udc0", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800\\uZZZZ\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\ud800", INFTY_EUTF8, NULL},
	    {"{\"\\udc00\":1}", INFTY_EUTF8, NULL},
	    /* \u0000 */
	    {"{\"s\":\"a\\u0000b\"}", INFTY_EUTF8, NULL},
	    {"{\"\\u0000\":1}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\\\\u0000\"}", 0, "{\"s\":\"\\\\u0000\"}"},
	    /* raw bytes: UTF-8, overlong, surrogates, NUL, control characters */
	    {"{\"s\":\"caf\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80\"}", 0, NULL},
	    {"{\"s\":\"\xc0\xaf\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\xe0\x80\xaf\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\xf0\x80\x80\xaf\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\xed\xa0\x80\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\xf4\x90\x80\x80\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\xe2\x88\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\x80\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"\xff\"}", INFTY_EUTF8, NULL},
	    {"{\"s\":\"x\"}\xff", INFTY_EUTF8, NULL},
	    {"{\"s\":1,}\xc3", INFTY_EUTF8, NULL},
	    {"\xef\xbb\xbf{\"s\":1}", INFTY_EJSON, NULL},
	    /* RFC 8259: control characters are escaped, never raw (json-c took them) */
	    {"{\"s\":\"tab\there\"}", INFTY_EJSON, NULL},
	    {"{\"s\":\"x\x01\"}", INFTY_EJSON, NULL},
	    {"{\"s\":\"x\x1f\"}", INFTY_EJSON, NULL},
	    {"{\"s\x0a\":1}", INFTY_EJSON, NULL},
	    {"{\"s\":\"tab\\there\\u0001\\u001f\x7f\"}", 0,
	     "{\"s\":\"tab\\there\\u0001\\u001f\x7f\"}"},
	    /* NaN, Infinity and overflow to infinity: not JSON, even when a
	     * repeated key would replace them (json-c's tokener took that) */
	    {"{\"v\":NaN}", INFTY_EJSON, NULL},
	    {"{\"v\":Infinity}", INFTY_EJSON, NULL},
	    {"{\"v\":-Infinity}", INFTY_EJSON, NULL},
	    {"{\"v\":[1,-Infinity]}", INFTY_EJSON, NULL},
	    {"{\"v\":nan}", INFTY_EJSON, NULL},
	    {"{\"v\":-infinity}", INFTY_EJSON, NULL},
	    {"{\"v\":Inf}", INFTY_EJSON, NULL},
	    {"{\"v\":1e400}", INFTY_EJSON, NULL},
	    {"{\"v\":-1e400}", INFTY_EJSON, NULL},
	    {"{\"v\":NaN,\"v\":1}", INFTY_EJSON, NULL},
	    {"{\"v\":[1e400],\"v\":{\"w\":-Infinity},\"v\":2}", INFTY_EJSON, NULL},
	    {"{\"v\":{\"w\":NaN,\"w\":0}}", INFTY_EJSON, NULL},
	    /* integers: -0, leading zeros, int64 and uint64 edges, saturation */
	    {"{\"n\":-0}", 0, "{\"n\":0}"},
	    {"{\"n\":0}", 0, "{\"n\":0}"},
	    {"{\"n\":00}", INFTY_EJSON, NULL},
	    {"{\"n\":01}", INFTY_EJSON, NULL},
	    {"{\"n\":-01}", INFTY_EJSON, NULL},
	    {"{\"n\":-00}", INFTY_EJSON, NULL},
	    {"{\"n\":-}", INFTY_EJSON, NULL},
	    {"{\"n\":--1}", INFTY_EJSON, NULL},
	    {"{\"n\":+1}", INFTY_EJSON, NULL},
	    {"{\"n\":9223372036854775807}", 0, "{\"n\":9223372036854775807}"},
	    {"{\"n\":9223372036854775808}", 0, "{\"n\":9223372036854775808}"},
	    {"{\"n\":18446744073709551615}", 0, "{\"n\":18446744073709551615}"},
	    {"{\"n\":18446744073709551616}", 0, "{\"n\":18446744073709551615}"},
	    {"{\"n\":99999999999999999999999999999}", 0, "{\"n\":18446744073709551615}"},
	    {"{\"n\":-9223372036854775808}", 0, "{\"n\":-9223372036854775808}"},
	    {"{\"n\":-9223372036854775809}", 0, "{\"n\":-9223372036854775808}"},
	    {"{\"n\":999999999999999999}", 0, "{\"n\":999999999999999999}"},
	    {"{\"n\":-999999999999999999}", 0, "{\"n\":-999999999999999999}"},
	    {"{\"n\":0000000000000000000001}", INFTY_EJSON, NULL},
	    {"{\"n\":-0000000000000000000001}", INFTY_EJSON, NULL},
	    {"{\"n\":00000000000000000000000}", INFTY_EJSON, NULL},
	    /* doubles keep their text */
	    {"{\"n\":1.0}", 0, "{\"n\":1.0}"},
	    {"{\"n\":-0.0}", 0, "{\"n\":-0.0}"},
	    {"{\"n\":1.}", INFTY_EJSON, NULL},
	    {"{\"n\":-.5}", INFTY_EJSON, NULL},
	    {"{\"n\":01.5}", INFTY_EJSON, NULL},
	    {"{\"n\":1.e5}", INFTY_EJSON, NULL},
	    {"{\"n\":0.5}", 0, "{\"n\":0.5}"},
	    {"{\"n\":-0e-0}", 0, "{\"n\":-0e-0}"},
	    {"{\"n\":1E+2}", 0, "{\"n\":1E+2}"},
	    {"{\"n\":1e-400}", 0, "{\"n\":1e-400}"},
	    {"{\"n\":1e308}", 0, "{\"n\":1e308}"},
	    {"{\"n\":2.5e-3}", 0, "{\"n\":2.5e-3}"},
	    {"{\"n\":123456789012345678901234567890.5}", 0, NULL},
	    {"{\"n\":1e}", INFTY_EJSON, NULL},
	    {"{\"n\":1e+}", INFTY_EJSON, NULL},
	    {"{\"n\":1.-5}", INFTY_EJSON, NULL},
	    {"{\"n\":1.5.}", INFTY_EJSON, NULL},
	    {"{\"n\":1e5e5}", INFTY_EJSON, NULL},
	    {"{\"n\":.5}", INFTY_EJSON, NULL},
	    {"{\"n\":0x10}", INFTY_EJSON, NULL},
	    {"{\"n\":1i}", INFTY_EJSON, NULL},
	    {"{\"n\":1/}", INFTY_EJSON, NULL},
	    {"{\"n\":-i}", INFTY_EJSON, NULL},
	    /* keys: duplicates keep the first place and the last value */
	    {"{\"a\":1,\"b\":2,\"a\":3}", 0, "{\"a\":3,\"b\":2}"},
	    {"{\"a\":[1],\"a\":{\"x\":1},\"a\":\"s\"}", 0, "{\"a\":\"s\"}"},
	    {"{\"\":1,\"\":2}", 0, "{\"\":2}"},
	    /* RFC 8259: keys in double quotes only (json-c took single ones) */
	    {"{'k':1}", INFTY_EJSON, NULL},
	    {"{'k\"q':1,\"k\\\"q\":2}", INFTY_EJSON, NULL},
	    {"{\"messages\":[],'id':\"x\"}", INFTY_EJSON, NULL},
	    {"{'k\\'':1}", INFTY_EJSON, NULL},
	    {"{\"k\":'v'}", INFTY_EJSON, NULL},
	    {"{\"a\\u00e9\\n\":1}", 0, "{\"a\xc3\xa9\\n\":1}"},
	    {"{k:1}", INFTY_EJSON, NULL},
	    {"{\"k\" 1}", INFTY_EJSON, NULL},
	    {"{\"k\":1,}", INFTY_EJSON, NULL},
	    {"{,}", INFTY_EJSON, NULL},
	    {"{\"k\":[1,]}", INFTY_EJSON, NULL},
	    {"{\"k\":[,1]}", INFTY_EJSON, NULL},
	    {"{\"k\":[1 2]}", INFTY_EJSON, NULL},
	    {"{\"k\":1 \"j\":2}", INFTY_EJSON, NULL},
	    {"{\"k\":tru}", INFTY_EJSON, NULL},
	    {"{\"k\":True}", INFTY_EJSON, NULL},
	    {"{\"k\":nul}", INFTY_EJSON, NULL},
	    {"{\"k\":nulll}", INFTY_EJSON, NULL},
	    {"{\"k\":true,\"l\":false,\"m\":null}", 0, "{\"k\":true,\"l\":false,\"m\":null}"},
	    {"{\"k\":/*c*/1}", INFTY_EJSON, NULL},
	    /* whitespace, top level, trailing text, NUL bytes */
	    {" \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } } \t\r\n", 0, "{\"a\":[1,2],\"b\":{}}"},
	    {"\v{\"a\":1}", INFTY_EJSON, NULL},
	    {"\f{\"a\":1}", INFTY_EJSON, NULL},
	    {"{\"a\":1}\v", INFTY_EJSON, NULL},
	    {"{\"a\":1}x", INFTY_EJSON, NULL},
	    {"{\"a\":1} {}", INFTY_EJSON, NULL},
	    {"{\"a\":1}}", INFTY_EJSON, NULL},
	    {"", INFTY_EJSON, NULL},
	    {" ", INFTY_EJSON, NULL},
	    {"{", INFTY_EJSON, NULL},
	    {"{}", 0, "{}"},
	    {"[1,2,3]", INFTY_EJSON, NULL},
	    {"[]", INFTY_EJSON, NULL},
	    {"\"s\"", INFTY_EJSON, NULL},
	    {"123", INFTY_EJSON, NULL},
	    {"null", INFTY_EJSON, NULL},
	    {"true ", INFTY_EJSON, NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char what[32], *serial = NULL;
		snprintf(what, sizeof what, "case %zu", i);
		size_t len = strlen(cases[i].text);
		int rc = compare(cases[i].text, len, what, NULL, &serial);
		if (rc != cases[i].want)
			fail_msg("case %zu: got %d, want %d: %s", i, rc, cases[i].want,
			         cases[i].text);
		if (cases[i].out && (!serial || strcmp(serial, cases[i].out) != 0))
			fail_msg("case %zu: serialized to %s, want %s", i, serial, cases[i].out);
		free(serial);
	}
	/* NUL bytes, which strlen() would cut. */
	static const struct {
		const char *text;
		size_t len;
	} nul[] = {
	    {"{\"a\":1}\0", 8},       {"{\"a\":\"b\0\"}", 10}, {"{\"a\0\":1}", 9},
	    {"{\"a\":1\0}", 8},       {"\0{\"a\":1}", 8},      {"{\"a\":[true\0]}", 13},
	    {"{\"a\":\"\\\0\"}", 10},
	};
	for (size_t i = 0; i < sizeof nul / sizeof *nul; i++)
		assert_int_equal(compare(nul[i].text, nul[i].len, "NUL", NULL, NULL), INFTY_EJSON);
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * tests/fixtures/json/rfc8259-cases.txt: JSON texts from RFC 8259 in the
 * JSONTestSuite's categories (y_ accept, n_ refuse, i_ our choice, p valid
 * JSON our input policy refuses), each parsed as a value; those that are
 * objects are also held to the reference, which must agree.
 */
static void test_rfc_cases(void **state)
{
	(void)state;
	FILE *f = fopen("tests/fixtures/json/rfc8259-cases.txt", "r");
	assert_non_null(f);
	char line[4096], text[2048];
	size_t counts[5] = {0};
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		if (!line[0] || line[0] == '#')
			continue;
		char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		const char *t = sp2 ? sp2 + 1 : "";
		if (!sp1) /* "VERDICT NAME" with nothing after the name: the empty text */
			fail_msg("malformed case line: %s", line);
		*sp1 = 0;
		if (sp2)
			*sp2 = 0;
		size_t n;
		if (!strncmp(t, "hex:", 4)) {
			n = 0;
			for (const char *h = t + 4; h[0] && h[1]; h += 2)
				text[n++] = (char)(unhex(h[0]) << 4 | unhex(h[1]));
		} else {
			n = strlen(t);
			memcpy(text, t, n);
		}
		const char *v = line, *name = sp1 + 1;
		struct json_object *o = NULL;
		char d[256];
		int rc = infty_json_parse_value(text, n, &o, d, sizeof d);
		json_object_put(o);
		int want_ok = !strcmp(v, "y") || !strcmp(v, "i+");
		if ((rc == 0) != want_ok)
			fail_msg("%s %s: %s (%s)", v, name, rc ? "refused" : "accepted", d);
		if (!strcmp(v, "p") && rc != INFTY_EUTF8)
			fail_msg("p %s: refused as %d, not by the input policy (%s)", name, rc, d);
		if (rc && (!d[0] || strchr(d, '\n')))
			fail_msg("%s %s: no one-line reason", v, name);
		if (n && text[0] == '{') /* the reference reads objects only */
			assert_int_equal(compare(text, n, name, NULL, NULL), rc);
		counts[v[0] == 'y' ? 0 : v[0] == 'n' ? 1 : v[0] == 'p' ? 4 : v[1] == '+' ? 2 : 3]++;
	}
	fclose(f);
	print_message("# RFC 8259 cases: %zu y, %zu n, %zu i (accepted), %zu i (refused), %zu p\n",
	              counts[0], counts[1], counts[2], counts[3], counts[4]);
	assert_true(counts[0] > 50 && counts[1] > 100);
}

/* What the tools print for the fixtures' broken rows stays the same. */
static void test_pinned_messages(void **state)
{
	(void)state;
	static const struct {
		const char *text, *detail;
	} cases[] = {
	    {"{\"problem\": \"broken\", ", "JSON ends early (truncated line?)"},
	    {"[1, 2, 3]", "line is not a JSON object"},
	    {"{\"id\":\"r/utf8\",\"problem\":\"bad \xff byte\"}", "invalid UTF-8 at byte 30"},
	    {"{\"v\":\"\\ud800 lone\"}", "lone surrogate escape at byte 6"},
	    {"{\"v\":\"nul \\u0000 inside\"}", "\\u0000 in a string at byte 10"},
	    {"{\"v\":NaN}", "NaN or Infinity is not JSON"},
	    {"{\"v\":1} x", "invalid JSON at byte 8: text after the value"},
	    {"", "JSON ends early (truncated line?)"},
	    {" \t", "JSON ends early (truncated line?)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct json_object *o;
		char detail[128];
		assert_int_not_equal(infty_json_parse(cases[i].text, strlen(cases[i].text), &o,
		                                      detail, sizeof detail),
		                     0);
		assert_null(o);
		assert_string_equal(detail, cases[i].detail);
	}
	/* A NULL or tiny detail buffer is fine. */
	struct json_object *o;
	assert_int_equal(infty_json_parse("{", 1, &o, NULL, 0), INFTY_EJSON);
	char one[1] = "x";
	assert_int_equal(infty_json_parse("{", 1, &o, one, sizeof one), INFTY_EJSON);
	assert_int_equal(one[0], '\0');
}

/* "{"a":" + n nested containers (arrays, objects or both) + what + closers + "}". */
static char *nest(int n, int kind, const char *what)
{
	size_t cap = (size_t)n * 8 + strlen(what) + 16, k = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	k += (size_t)snprintf(s + k, cap - k, "{\"a\":");
	for (int i = 0; i < n; i++)
		k += (size_t)snprintf(s + k, cap - k, "%s",
		                      (kind == 0 || (kind == 2 && i % 2)) ? "[" : "{\"k\":");
	k += (size_t)snprintf(s + k, cap - k, "%s", what);
	for (int i = n - 1; i >= 0; i--)
		k += (size_t)snprintf(s + k, cap - k, "%s",
		                      (kind == 0 || (kind == 2 && i % 2)) ? "]" : "}");
	snprintf(s + k, cap - k, "}");
	return s;
}

static void test_depth_limit(void **state)
{
	(void)state;
	/* The line's object is depth 0; a container at depth 31 must be empty. */
	const char *inner[] = {"1", "[]", "{}", "[1]", "{\"x\":1}", "\"s\"", "[[]]"};
	struct tally t = {0};
	for (int kind = 0; kind < 3; kind++)
		for (int n = 27; n <= 34; n++)
			for (size_t i = 0; i < sizeof inner / sizeof *inner; i++) {
				char *s = nest(n, kind, inner[i]);
				compare(s, strlen(s), "nesting", &t, NULL);
				free(s);
			}
	assert_true(t.ok > 0 && t.json > 0);
	/* Exactly at the limit, and one past it. */
	char *s = nest(30, 0, "1");
	assert_int_equal(compare(s, strlen(s), "depth 31 scalar", NULL, NULL), 0);
	free(s);
	s = nest(30, 1, "{}");
	assert_int_equal(compare(s, strlen(s), "depth 31 empty object", NULL, NULL), 0);
	free(s);
	s = nest(31, 0, "1");
	assert_int_equal(compare(s, strlen(s), "depth 32 scalar", NULL, NULL), INFTY_EJSON);
	free(s);
	s = nest(30, 0, "[[]]");
	assert_int_equal(compare(s, strlen(s), "depth 32 array", NULL, NULL), INFTY_EJSON);
	free(s);
	/* Far too deep must not exhaust anything either. */
	s = nest(100000, 2, "1");
	assert_int_equal(compare(s, strlen(s), "depth 100000", NULL, NULL), INFTY_EJSON);
	free(s);
}

/* A row with a bit of everything, long enough for the 8-byte paths. */
static const char sample_row[] =
    "{\"id\":\"r-1\",\"messages\":[{\"role\":\"user\",\"content\":\"Find $x$ if "
    "\\\"2x = 4\\\".\\nShow work.\"},{\"role\":\"assistant\",\"content\":\"<think>\\nOkay, "
    "caf\xc3\xa9 \xe2\x88\x91 \xf0\x9f\x98\x80 \\u00e9\\ud83d\\ude00 tab\\t slash\\/ "
    "back\\\\slash\\n\\n</think>\\n\\n**2**\"}],\"n\":[0,-1,2.5,1e3,-0.0,"
    "18446744073709551615],\"ok\":true,\"no\":false,\"z\":null,\"q\":{},\"e\":[]}";

static void test_whitespace_variants(void **state)
{
	(void)state;
	/* Each of these bytes, once, after every byte of the row. */
	const char ws[] = {' ', '\t', '\n', '\r', '\v', '\f', '\0', 'x'};
	size_t n = sizeof sample_row - 1;
	char *buf = malloc(n + 1);
	assert_non_null(buf);
	struct tally t = {0};
	for (size_t w = 0; w < sizeof ws; w++)
		for (size_t i = 0; i <= n; i++) {
			memcpy(buf, sample_row, i);
			buf[i] = ws[w];
			memcpy(buf + i + 1, sample_row + i, n - i);
			compare(buf, n + 1, "whitespace", &t, NULL);
		}
	free(buf);
	assert_true(t.ok > 0 && t.json > 0);
}

/* Every prefix of line[0..n), the empty one and the whole line included. */
static void truncations(const char *line, size_t n, struct tally *t)
{
	for (size_t i = 0; i <= n; i++)
		compare(line, i, "truncation", t, NULL);
}

/* Every byte of line[0..n) replaced by each of the 256 values. */
static void mutations(const char *line, size_t n, struct tally *t)
{
	char *buf = malloc(n ? n : 1);
	assert_non_null(buf);
	memcpy(buf, line, n);
	for (size_t i = 0; i < n; i++) {
		for (int b = 0; b < 256; b++) {
			buf[i] = (char)b;
			compare(buf, n, "mutation", t, NULL);
		}
		buf[i] = line[i];
	}
	free(buf);
}

static void test_truncations_and_mutations(void **state)
{
	(void)state;
	static const char *rows[] = {
	    sample_row,
	    "{\"a\":\"\\ud800\\udc00 \\n\\u0001x\",\"b\":[1.5e-3,-12,{\"c\":null}]}",
	    "{\"k\":\"v\",\"k\":\"w\",\"x\":-0.5e-3,\"x\":1}",
	};
	struct tally t = {0};
	for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
		truncations(rows[r], strlen(rows[r]), &t);
		mutations(rows[r], strlen(rows[r]), &t);
	}
	assert_true(t.ok > 0 && t.json > 0 && t.utf8 > 0);
	print_message("# mutations and truncations: %zu accepted (%zu with json-c's pair bug), "
	              "%zu bad JSON, %zu bad UTF-8\n",
	              t.ok, t.pairs, t.json, t.utf8);
}

static const char *shared_dir(void)
{
	const char *s = getenv("INFTY_SHARED");
	return s ? s : "../shared";
}

/* Every line of path through compare(); the line count, or -1 if unreadable. */
static long each_line(const char *path, struct tally *t, char **first)
{
	struct infty_reader *r;
	if (infty_reader_open(&r, path, 0, NULL, 0) != 0)
		return -1;
	const char *line;
	size_t len;
	uint64_t ln;
	long n = 0;
	int rc;
	while ((rc = infty_reader_next_line(r, &line, &len, &ln)) == 1) {
		if (first && !*first)
			*first = strndup(line, len);
		char what[64];
		snprintf(what, sizeof what, "%s:%llu", path, (unsigned long long)ln);
		compare(line, len, what, t, NULL);
		n++;
	}
	assert_int_equal(rc, 0);
	infty_reader_free(r);
	return n;
}

static void test_real_data(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof path, "%s/data/corpus/reasoning_traces.jsonl.zst", shared_dir());
	struct tally t = {0};
	char *first = NULL;
	long n = each_line(path, &t, &first);
	if (n < 0) {
		/* cmocka's skip() prints "not ok # SKIP", which prove fails */
		print_message("# SKIP corpus differential: %s absent\n", path);
	} else {
		print_message("# corpus: %ld lines, %zu accepted, %zu bad JSON, %zu bad UTF-8\n", n,
		              t.ok, t.json, t.utf8);
		assert_true(n > 0 && t.ok > 0);
		/* Truncations of a real row: a quarter of its prefixes. */
		size_t len = strlen(first);
		for (size_t i = 0; i < len; i += 4)
			compare(first, i, "corpus row prefix", NULL, NULL);
		free(first);
	}
	snprintf(path, sizeof path, "%s/data/openr1_math_messages_sample.jsonl", shared_dir());
	memset(&t, 0, sizeof t);
	n = each_line(path, &t, NULL);
	if (n < 0) {
		print_message("# SKIP OpenR1 sample differential: %s absent\n", path);
		return;
	}
	print_message("# OpenR1 sample: %ld lines, %zu accepted\n", n, t.ok);
	assert_true(n > 0 && t.ok > 0);
}

/* Many threads at once (as infty-segment's OpenMP loop): same results. */
static void test_threads(void **state)
{
	(void)state;
	enum { N = 64 };
	static char lines[N][sizeof sample_row + 8];
	size_t lens[N];
	for (int i = 0; i < N; i++) {
		memcpy(lines[i], sample_row, sizeof sample_row);
		lens[i] = sizeof sample_row - 1 - (size_t)(i % 3 == 2); /* some truncated */
		if (i % 3 == 1)
			lines[i][20] = '\xff';
	}
	char *want[N];
	int want_rc[N];
	for (int i = 0; i < N; i++) {
		struct json_object *o;
		want_rc[i] = infty_json_parse(lines[i], lens[i], &o, NULL, 0);
		want[i] =
		    o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;
		json_object_put(o);
	}
	int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad) schedule(dynamic)
	for (int k = 0; k < N * 50; k++) {
		int i = k % N;
		struct json_object *o;
		char detail[128];
		int rc = infty_json_parse(lines[i], lens[i], &o, detail, sizeof detail);
		if (rc != want_rc[i] ||
		    (o && strcmp(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
		                 want[i]) != 0))
			bad++;
		json_object_put(o);
	}
	for (int i = 0; i < N; i++)
		free(want[i]);
	assert_int_equal(bad, 0);
}

static void test_allocation_failure(void **state)
{
	(void)state;
	/* Past the stack scratch, so the parser allocates one of its own. */
	size_t n = 20000;
	char *s = malloc(n + 16);
	assert_non_null(s);
	memcpy(s, "{\"v\":\"", 6);
	for (size_t i = 6; i < n; i += 2)
		memcpy(s + i, "\\n", 2);
	memcpy(s + n, "\"}", 2);
	struct json_object *o;
	char detail[64];
	infty_alloc_fail_after(0);
	int rc = infty_json_parse(s, n + 2, &o, detail, sizeof detail);
	infty_alloc_fail_after(-1);
	assert_int_equal(rc, INFTY_ENOMEM);
	assert_null(o);
	assert_string_equal(detail, "out of memory");
	assert_int_equal(compare(s, n + 2, "escapes", NULL, NULL), 0);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tricky_lines),
	    cmocka_unit_test(test_pinned_messages),
	    cmocka_unit_test(test_rfc_cases),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_whitespace_variants),
	    cmocka_unit_test(test_truncations_and_mutations),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_allocation_failure),
	    cmocka_unit_test(test_real_data),
	};
	return cmocka_run_group_tests_name("json_parse", tests, NULL, NULL);
}
