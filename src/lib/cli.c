/*
 * cli.c - what every tool's main needs: one-line messages with the program
 * name, consistent exit codes, and strict number parsing that names the
 * offending option.
 */
#include "infty/cli.h"
#include "infty/error.h"
#include "infty/hash.h"
#include "infty/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *progname = "infty";
static void (*before_message)(void *);
static void *before_ctx;

void infty_cli_before_message(void (*fn)(void *ctx), void *ctx)
{
	before_message = fn;
	before_ctx = ctx;
}

void infty_cli_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	progname = slash ? slash + 1 : name;
}

const char *infty_cli_progname(void)
{
	return progname;
}

static void vmessage(const char *fmt, va_list ap)
{
	/* One fprintf per line so messages from threads do not interleave. */
	char buf[4096];
	vsnprintf(buf, sizeof buf, fmt, ap);
	if (before_message)
		before_message(before_ctx); /* e.g. clear a live progress line */
	fprintf(stderr, "%s: %s\n", progname, buf);
}

void infty_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

void infty_die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(status);
}

void infty_usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", progname);
	exit(INFTY_EXIT_USAGE);
}

long long infty_parse_ll(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || (errno && errno != ERANGE))
		infty_usage_error("%s: '%s' is not a whole number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		infty_usage_error("%s: %s is out of range [%lld, %lld]", opt, s, min, max);
	return v;
}

unsigned long long infty_parse_ull(const char *opt, const char *s, unsigned long long min,
                                   unsigned long long max)
{
	char *end;
	errno = 0;
	if (*s == '-')
		infty_usage_error("%s: '%s' must not be negative", opt, s);
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s || *end || (errno && errno != ERANGE))
		infty_usage_error("%s: '%s' is not a whole number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		infty_usage_error("%s: %s is out of range [%llu, %llu]", opt, s, min, max);
	return v;
}

double infty_parse_double(const char *opt, const char *s, double min, double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || isnan(v) || (errno && errno != ERANGE))
		infty_usage_error("%s: '%s' is not a number", opt, s);
	if (errno == ERANGE || v < min || v > max)
		infty_usage_error("%s: %s is out of range [%g, %g]", opt, s, min, max);
	return v;
}

void infty_parse_shard(const char *opt, const char *s, uint32_t *index, uint32_t *count)
{
	char *end;
	errno = 0;
	unsigned long i = strtoul(s, &end, 10);
	if (errno || end == s || *end != '/')
		infty_usage_error("%s: '%s' is not of the form I/N", opt, s);
	const char *ns = end + 1;
	unsigned long n = strtoul(ns, &end, 10);
	if (errno || end == ns || *end || n == 0 || n > 1000000 || i >= n)
		infty_usage_error("%s: '%s' needs 0 <= I < N <= 1000000", opt, s);
	*index = (uint32_t)i;
	*count = (uint32_t)n;
}

int infty_shard_owns(const char *id, uint32_t index, uint32_t count)
{
	if (count <= 1)
		return 1;
	return infty_hash64(id, strlen(id)) % count == index;
}

void infty_print_version(void)
{
	printf("%s %s\n", progname, INFTY_VERSION);
	exit(ferror(stdout) || fflush(stdout) ? INFTY_EXIT_DATA : INFTY_EXIT_OK);
}

struct infty_tokenizer *infty_cli_tokenizer(const char *path)
{
	if (!path || !strcmp(path, "default"))
		path = infty_tokenizer_default_path();
	struct infty_tokenizer *tok;
	char detail[512] = "";
	int rc = infty_tokenizer_load(&tok, path, detail, sizeof detail);
	if (rc)
		infty_die(INFTY_EXIT_USAGE, "%s: cannot load tokenizer: %s", path,
		          *detail ? detail : infty_strerror(rc));
	return tok;
}
