/*
 * options.c - parse a tool's argv by its option table, and print the table
 * as --help (see options.h).  getopt_long does the scanning, so the grammar
 * is the GNU one every user knows; the table adds the conversions, the
 * range checks and the messages, the same in every tool.
 */
#include "infty/options.h"
#include "infty/cli.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTIONS 96

const char infty_opts_exit_text[] =
    "Exit status: 0 finished; 1 finished, some records rejected (each in the\n"
    "reject file, with its reason); 2 usage or configuration error, nothing\n"
    "written; 3 stopped before the end, nothing published.  See infty(7).\n";

static size_t count(const struct infty_option *o)
{
	size_t n = 0;
	while (o[n].type != INFTY_OPT_T_END)
		n++;
	return n;
}

static int takes_arg(const struct infty_option *o)
{
	switch (o->type) {
	case INFTY_OPT_T_STRING:
	case INFTY_OPT_T_INT:
	case INFTY_OPT_T_DOUBLE:
	case INFTY_OPT_T_CHOICE:
		return 1;
	case INFTY_OPT_T_CALL:
		return o->has_arg;
	default:
		return 0;
	}
}

/* "-o, --output FILE" or "    --level N" (what --help shows on the left). */
static void left_column(const struct infty_option *o, char *buf, size_t n)
{
	char sh[8] = "    ";
	if (o->short_name)
		snprintf(sh, sizeof sh, o->long_name ? "-%c, " : "-%c", o->short_name);
	snprintf(buf, n, "%s%s%s%s%s", sh, o->long_name ? "--" : "",
	         o->long_name ? o->long_name : "", o->argh ? " " : "", o->argh ? o->argh : "");
}

void infty_opts_help(const struct infty_cmd *cmd, FILE *f)
{
	const char *u = cmd->usage;
	for (int first = 1; u; first = 0) {
		const char *nl = strchr(u, '\n');
		int len = nl ? (int)(nl - u) : (int)strlen(u);
		fprintf(f, "%s %s %.*s\n", first ? "usage:" : "      ", cmd->name, len, u);
		u = nl ? nl + 1 : NULL;
	}
	if (cmd->about)
		fprintf(f, "%s", cmd->about);
	/* The help column: after the longest left column, within reason. */
	size_t width = 0;
	char left[160];
	for (const struct infty_option *o = cmd->options; o->type != INFTY_OPT_T_END; o++) {
		if (o->type == INFTY_OPT_T_GROUP)
			continue;
		left_column(o, left, sizeof left);
		if (strlen(left) > width)
			width = strlen(left);
	}
	if (width > 24)
		width = 24;
	fputc('\n', f);
	for (const struct infty_option *o = cmd->options; o->type != INFTY_OPT_T_END; o++) {
		if (o->type == INFTY_OPT_T_GROUP) {
			fprintf(f, *o->help ? "\n%s\n" : "\n", o->help);
			continue;
		}
		left_column(o, left, sizeof left);
		fprintf(f, "  %s", left);
		int col = 2 + (int)strlen(left);
		const char *h = o->help ? o->help : "";
		if (col > (int)width + 2) {
			/* Too long to share a line with its help: the help goes below. */
			fputc('\n', f);
			col = 0;
		}
		for (;;) {
			const char *nl = strchr(h, '\n');
			int len = nl ? (int)(nl - h) : (int)strlen(h);
			fprintf(f, "%*s%.*s\n", (int)width + 4 - col, "", len, h);
			col = 0;
			if (!nl)
				break;
			h = nl + 1;
		}
	}
	fprintf(f, "\n%s", infty_opts_exit_text);
	if (cmd->exit_note)
		fprintf(f, "%s", cmd->exit_note);
	fprintf(f, "Details: %s(1).\n", cmd->name);
}

/* "--name" or "-n" as the user typed it, for messages. */
static void shown_name(const struct infty_option *o, char *buf, size_t n)
{
	if (o->long_name)
		snprintf(buf, n, "--%s", o->long_name);
	else
		snprintf(buf, n, "-%c", o->short_name);
}

/* "'x' is not a, b or c" */
static void choice_error(const char *name, const char *arg, const char *const *c)
{
	char list[512] = "";
	size_t n = 0, len = 0;
	while (c[n])
		n++;
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(list + len, sizeof list - len, "%s%s",
		                 i == 0       ? ""
		                 : i + 1 == n ? " or "
		                              : ", ",
		                 c[i]);
		if (k < 0 || (size_t)k >= sizeof list - len)
			break;
		len += (size_t)k;
	}
	infty_usage_error("%s: '%s' is not %s", name, arg, list);
}

static void set_int(const struct infty_option *o, long long v)
{
	if (o->size == sizeof(int32_t)) {
		int32_t x = (int32_t)v;
		memcpy(o->value, &x, sizeof x);
	} else {
		int64_t x = v;
		memcpy(o->value, &x, sizeof x);
	}
}

static void apply(const struct infty_cmd *cmd, const struct infty_option *o, const char *arg)
{
	char name[80];
	shown_name(o, name, sizeof name);
	switch (o->type) {
	case INFTY_OPT_T_FLAG:
		*(int *)o->value = o->ival;
		break;
	case INFTY_OPT_T_STRING:
		*(const char **)o->value = arg;
		break;
	case INFTY_OPT_T_INT:
		set_int(o, infty_parse_ll(name, arg, o->min, o->max));
		break;
	case INFTY_OPT_T_DOUBLE:
		*(double *)o->value = infty_parse_double(name, arg, o->dmin, o->dmax);
		break;
	case INFTY_OPT_T_CHOICE:
		for (int i = 0; o->choices[i]; i++)
			if (!strcmp(arg, o->choices[i])) {
				*(int *)o->value = i;
				return;
			}
		choice_error(name, arg, o->choices);
		break;
	case INFTY_OPT_T_CALL: {
		char err[512] = "";
		const char *why = o->call(o, arg, err, sizeof err);
		if (why)
			infty_usage_error("%s: %s", name, why);
		break;
	}
	case INFTY_OPT_T_HELP:
		infty_opts_help(cmd, stdout);
		if (fflush(stdout) || ferror(stdout))
			infty_die(INFTY_EXIT_STOPPED, "stdout: write error");
		exit(INFTY_EXIT_OK);
	case INFTY_OPT_T_VERSION:
		infty_print_version();
	default:
		break;
	}
}

int infty_opts_parse(const struct infty_cmd *cmd, int argc, char **argv)
{
	/* The name printed first in every message is the tool's, never a path. */
	infty_cli_init(cmd->name);
	size_t n = count(cmd->options);
	if (n >= MAX_OPTIONS)
		infty_die(INFTY_EXIT_USAGE, "internal: too many options");
	struct option longopts[MAX_OPTIONS + 1];
	char shortopts[3 * MAX_OPTIONS + 3];
	size_t nl = 0, ns = 0;
	if (cmd->stop_at_operand)
		shortopts[ns++] = '+';
	shortopts[ns++] = ':'; /* a missing argument is ':', not '?' */
	for (size_t i = 0; i < n; i++) {
		const struct infty_option *o = &cmd->options[i];
		if (o->type == INFTY_OPT_T_GROUP)
			continue;
		/* getopt returns 256 + i for a long option, the letter for a short one. */
		if (o->long_name)
			longopts[nl++] = (struct option){
			    o->long_name, takes_arg(o) ? required_argument : no_argument, NULL,
			    256 + (int)i};
		if (o->short_name) {
			shortopts[ns++] = (char)o->short_name;
			if (takes_arg(o))
				shortopts[ns++] = ':';
		}
	}
	longopts[nl] = (struct option){NULL, 0, NULL, 0};
	shortopts[ns] = 0;
	opterr = 0;
	optind = 0; /* a full restart: a tool may parse twice (a command word) */
	int c, longindex;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &longindex)) != -1) {
		if (c == '?' || c == ':') {
			const char *what = c == ':' ? "needs an argument" : "takes no argument";
			if (optopt >= 256)
				infty_usage_error("option '--%s' %s",
				                  cmd->options[optopt - 256].long_name, what);
			if (optopt && c == ':')
				infty_usage_error("option '-%c' %s", optopt, what);
			if (optopt)
				infty_usage_error("unknown option '-%c'", optopt);
			/* An unknown (or ambiguous) long option: as typed, up to any '='. */
			const char *bad = argv[optind - 1];
			infty_usage_error("unknown option '%.*s'", (int)strcspn(bad, "="), bad);
		}
		const struct infty_option *o = NULL;
		if (c >= 256)
			o = &cmd->options[c - 256];
		else
			for (size_t i = 0; i < n && !o; i++)
				if (cmd->options[i].short_name == c &&
				    cmd->options[i].type != INFTY_OPT_T_GROUP)
					o = &cmd->options[i];
		if (o)
			apply(cmd, o, optarg);
	}
	return optind;
}
