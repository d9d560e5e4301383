/*
 * infty-shard: split a JSONL(.zst) input into N zstd shards for the
 * pipeline's per-shard stages.  Options, messages and exit codes only; the
 * work is in shard.c.
 */
#include "shard.h"

#include "infty/cli.h"
#include "infty/error.h"
#include "infty/json_write.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: infty-shard -n N -o DIR [OPTIONS] [INPUT]\n"
    "Split INPUT (.jsonl or .jsonl.zst; default or - = stdin) into N zstd\n"
    "shards DIR/00000.jsonl.zst ... in one pass: line L goes to shard (L-1) mod N.\n"
    "\n"
    "  -n, --shards N     number of shards, 1 to 4096\n"
    "  -o, --output DIR   directory of the shards (created if missing)\n"
    "  -s, --stats FILE   counts as JSON: lines, rows, blank lines, bytes\n"
    "      --level N      zstd level of the shards (default 3)\n"
    "  -q, --quiet        no progress line\n"
    "  -h, --help         this help\n"
    "  -V, --version      print the version\n"
    "\n"
    "Exit status: 0 done; 2 usage error or an input that cannot be opened;\n"
    "3 stopped (a read error such as a truncated .zst, a write error, a\n"
    "signal): no shard of this run is left under its final name.\n";

static volatile int cancel_flag;

static void on_signal(int sig)
{
	(void)sig;
	cancel_flag = 1;
}

#define STATS_HEAD "{\"stage\":\"shard\",\"input\":"

/* The counts as one JSON object, written to a temporary file and renamed. */
static int write_stats(const char *path, const struct infty_shard_opts *o,
                       const struct infty_shard_totals *t)
{
	struct infty_buf b = {0};
	char num[512];
	int rc = infty_buf_append(&b, STATS_HEAD, sizeof STATS_HEAD - 1);
	rc = rc ? rc : infty_json_write_string(&b, o->input, strlen(o->input));
	snprintf(num, sizeof num,
	         ",\"shards\":%u,\"lines\":%llu,\"rows\":%llu,\"blank_lines\":%llu,"
	         "\"bytes_in\":%llu,\"frames\":%llu,\"seconds\":%.3f,\"completed\":true}\n",
	         o->shards, (unsigned long long)t->lines, (unsigned long long)t->rows,
	         (unsigned long long)t->blank, (unsigned long long)t->bytes_in,
	         (unsigned long long)t->frames, t->seconds);
	rc = rc ? rc : infty_buf_append(&b, num, strlen(num));
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = rc ? NULL : fopen(tmp, "w");
	if (!f) {
		infty_buf_release(&b);
		return -1;
	}
	fwrite(b.data, 1, b.len, f);
	infty_buf_release(&b);
	if (ferror(f) | fclose(f) || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"shards", required_argument, NULL, 'n'}, {"output", required_argument, NULL, 'o'},
	    {"stats", required_argument, NULL, 's'},  {"level", required_argument, NULL, 'L'},
	    {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	infty_cli_init(argv[0]);
	struct infty_shard_opts o = {.level = 3, .mem_budget = 64u << 20, .cancel = &cancel_flag};
	const char *stats = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "n:o:s:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.shards = (uint32_t)infty_parse_ll("--shards", optarg, 1, 4096);
			break;
		case 'o':
			o.dir = optarg;
			break;
		case 's':
			stats = optarg;
			break;
		case 'L':
			o.level = (int)infty_parse_ll("--level", optarg, 1, 19);
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			if (fflush(stdout) || ferror(stdout))
				infty_die(INFTY_EXIT_STOPPED, "stdout: write failed");
			return INFTY_EXIT_OK;
		case 'V':
			infty_print_version();
		default:
			infty_usage_error("bad option");
		}
	}
	if (!o.shards)
		infty_usage_error("--shards is required");
	if (!o.dir)
		infty_usage_error("--output DIR is required");
	if (argc - optind > 1)
		infty_usage_error("one input file at most (got %d)", argc - optind);
	o.input = optind < argc ? argv[optind] : "-";

	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct infty_shard_totals t;
	char detail[4608];
	int rc = infty_shard_run(&o, &t, detail, sizeof detail);
	if (rc == INFTY_EINVAL)
		infty_die(INFTY_EXIT_USAGE, "%s", detail);
	if (rc)
		infty_die(INFTY_EXIT_STOPPED, "%s", *detail ? detail : infty_strerror(rc));
	if (stats && write_stats(stats, &o, &t) != 0)
		infty_die(INFTY_EXIT_STOPPED, "%s: cannot write: %s", stats, strerror(errno));
	return INFTY_EXIT_OK;
}
