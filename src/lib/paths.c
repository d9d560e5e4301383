/*
 * paths.c - an infty tool's home (prompts, default tokenizer), found from
 * the environment or from where the binary itself is, so that an installed
 * tree works from any directory and can be moved (see paths.h).
 */
#include "infty/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char home[PATH_MAX], prompts[PATH_MAX + 16];
static enum infty_home_kind home_kind;
static int resolved;

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Drop the last path component of p in place; 0 when there is none left. */
static int up(char *p)
{
	char *slash = strrchr(p, '/');
	if (!slash || slash == p)
		return 0;
	*slash = 0;
	return 1;
}

static void resolve(void)
{
	resolved = 1;
	const char *env = getenv("INFTY_HOME");
	if (env && *env) {
		snprintf(home, sizeof home, "%s", env);
		home_kind = INFTY_HOME_ENV;
		return;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = 0;
	if (!up(exe)) /* the binary's directory */
		return;
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/../share/infty", exe);
	if (is_dir(p) && realpath(p, home)) {
		home_kind = INFTY_HOME_INSTALLED;
		return;
	}
	for (int i = 0; i < 3 && up(exe); i++) {
		snprintf(p, sizeof p, "%s/prompts/cumulative.txt", exe);
		if (is_file(p)) {
			snprintf(home, sizeof home, "%s", exe);
			home_kind = INFTY_HOME_CHECKOUT;
			return;
		}
	}
}

const char *infty_path_home(enum infty_home_kind *kind)
{
	if (!resolved)
		resolve();
	if (kind)
		*kind = home_kind;
	return home_kind == INFTY_HOME_NONE ? NULL : home;
}

const char *infty_path_prompts(void)
{
	const char *h = infty_path_home(NULL);
	if (!h)
		return NULL;
	snprintf(prompts, sizeof prompts, "%s/prompts", h);
	return prompts;
}
