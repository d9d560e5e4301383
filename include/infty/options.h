/*
 * options.h - one option table per tool, from which its parsing, its --help
 * and the check of its man page all come (git's parse-options is the model).
 *
 * A tool declares a static array of struct infty_option ending with
 * INFTY_OPT_END(); each entry names the variable it sets.  infty_opts_parse()
 * reads argv with getopt_long semantics (options and operands mixed, "--"
 * ends options, --name=value), converts and range-checks each value, and on
 * any mistake prints one line plus the usage hint and exits 2:
 *
 *   infty-build: --max-tokens: 'x' is not a whole number
 *   Try 'infty-build --help' for more information.
 *
 * --help prints the usage line, the description, the table and the exit
 * statuses (stdout, exit 0); --version prints "infty-x VERSION".
 * tests/cli/05-options.t compares every tool's --help with the SYNOPSIS and
 * OPTIONS of its man page, so the two cannot drift apart.
 *
 * One vocabulary across tools: -o/--output, -r/--rejects, -s/--stats,
 * -j/--threads, -q/--quiet, -t/--tokenizer, -h/--help, -V/--version mean
 * the same in every tool that has them (the same test checks it).
 *
 * Ownership: the table and everything it points to are the tool's (static
 * data in practice); a STRING option stores argv's own pointer.  Only tools
 * call this module: it prints and exits, as cli.h does.
 */
#ifndef INFTY_OPTIONS_H
#define INFTY_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

enum infty_opt_type {
	INFTY_OPT_T_END,
	INFTY_OPT_T_GROUP,  /* a heading (or "" for a blank line) in --help */
	INFTY_OPT_T_FLAG,   /* no argument: *(int *)value = ival */
	INFTY_OPT_T_STRING, /* *(const char **)value = the argument */
	INFTY_OPT_T_INT,    /* a whole number in [min, max], stored in an integer of `size` bytes */
	INFTY_OPT_T_DOUBLE, /* a number in [dmin, dmax] */
	INFTY_OPT_T_CHOICE, /* *(int *)value = index of the argument in choices */
	INFTY_OPT_T_CALL,   /* call(opt, arg): 0, or a message for a usage error */
	INFTY_OPT_T_HELP,   /* -h, --help */
	INFTY_OPT_T_VERSION, /* -V, --version */
};

struct infty_option;

/*
 * A CALL option's handler: arg is NULL for an option without argument.
 * Returns NULL, or a message (static, or in err of size errlen) that makes
 * the call a usage error; the option's name is put in front of it.
 */
typedef const char *(*infty_opt_fn)(const struct infty_option *opt, const char *arg, char *err,
                                    size_t errlen);

struct infty_option {
	enum infty_opt_type type;
	int short_name;             /* 0: none */
	const char *long_name;      /* NULL for a GROUP */
	void *value;                /* what the option sets (borrowed) */
	size_t size;                /* INT: sizeof *value (4 or 8) */
	const char *argh;           /* the argument's name in --help ("N"), NULL: none */
	const char *help;           /* one or more lines, '\n' between them */
	long long min, max;         /* INT */
	double dmin, dmax;          /* DOUBLE */
	int ival;                   /* FLAG: the value set */
	const char *const *choices; /* CHOICE: NULL-terminated names */
	infty_opt_fn call;          /* CALL */
	int has_arg;                /* CALL: whether it takes an argument */
};

/* What --help and messages say about the tool, and its table. */
struct infty_cmd {
	const char *name;  /* "infty-build" */
	const char *usage; /* after the name: "[OPTIONS] [FILE...]"; '\n' between forms */
	const char *about; /* the paragraph after the usage line */
	const struct infty_option *options;
	const char *exit_note; /* a line about this tool's statuses, or NULL */
	int stop_at_operand;   /* options end at the first operand (a command word) */
};

#define INFTY_OPT_END()                                                                            \
	{                                                                                          \
		INFTY_OPT_T_END, 0, NULL, NULL, 0, NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, 0        \
	}
#define INFTY_OPT_GROUP(h)                                                                         \
	{                                                                                          \
		INFTY_OPT_T_GROUP, 0, NULL, NULL, 0, NULL, h, 0, 0, 0, 0, 0, NULL, NULL, 0         \
	}
#define INFTY_OPT_FLAG(s, l, v, i, h)                                                              \
	{                                                                                          \
		INFTY_OPT_T_FLAG, s, l, v, sizeof *(v), NULL, h, 0, 0, 0, 0, i, NULL, NULL, 0      \
	}
#define INFTY_OPT_STRING(s, l, v, a, h)                                                            \
	{                                                                                          \
		INFTY_OPT_T_STRING, s, l, v, sizeof *(v), a, h, 0, 0, 0, 0, 0, NULL, NULL, 1       \
	}
#define INFTY_OPT_INT(s, l, v, a, lo, hi, h)                                                       \
	{                                                                                          \
		INFTY_OPT_T_INT, s, l, v, sizeof *(v), a, h, lo, hi, 0, 0, 0, NULL, NULL, 1        \
	}
#define INFTY_OPT_DOUBLE(s, l, v, a, lo, hi, h)                                                    \
	{                                                                                          \
		INFTY_OPT_T_DOUBLE, s, l, v, sizeof *(v), a, h, 0, 0, lo, hi, 0, NULL, NULL, 1     \
	}
#define INFTY_OPT_CHOICE(s, l, v, a, names, h)                                                     \
	{                                                                                          \
		INFTY_OPT_T_CHOICE, s, l, v, sizeof *(v), a, h, 0, 0, 0, 0, 0, names, NULL, 1      \
	}
#define INFTY_OPT_CALL(s, l, v, a, fn, h)                                                          \
	{                                                                                          \
		INFTY_OPT_T_CALL, s, l, v, 0, a, h, 0, 0, 0, 0, 0, NULL, fn, (a) != NULL           \
	}
#define INFTY_OPT_HELP()                                                                           \
	{                                                                                          \
		INFTY_OPT_T_HELP, 'h', "help", NULL, 0, NULL, "this help", 0, 0, 0, 0, 0, NULL,    \
		    NULL, 0                                                                        \
	}
#define INFTY_OPT_VERSION()                                                                        \
	{                                                                                          \
		INFTY_OPT_T_VERSION, 'V', "version", NULL, 0, NULL, "print the version", 0, 0, 0,  \
		    0, 0, NULL, NULL, 0                                                            \
	}
/* The end of every table: -h, -V, then the terminator. */
#define INFTY_OPT_HELP_VERSION_END() INFTY_OPT_HELP(), INFTY_OPT_VERSION(), INFTY_OPT_END()

/*
 * Parse argv[1..argc) by cmd's table; also sets the program name for
 * messages (infty_cli_init).  Operands are moved, in order, to the end of
 * argv; returns the index of the first one (argc when there is none), as
 * getopt's optind.  Usage errors print and exit 2; --help and --version
 * print and exit 0.
 */
int infty_opts_parse(const struct infty_cmd *cmd, int argc, char **argv);

/* The --help text (usage, about, options, exit statuses) to f. */
void infty_opts_help(const struct infty_cmd *cmd, FILE *f);

/*
 * The exit statuses every tool shares, as --help prints them (the one
 * place they are written in code; docs/man/infty.7 is the page).
 */
extern const char infty_opts_exit_text[];

#endif
