/*
 * paths.h - where an infty tool finds its data (prompts, the default
 * tokenizer) wherever it was installed or built, never from the build
 * machine's paths alone.
 *
 * Home, in this order:
 *   $INFTY_HOME                     set by the user;
 *   <exe>/../share/infty            an installed tree (make install PREFIX=…,
 *                                   DESTDIR=…, then moved anywhere);
 *   the checkout <exe> was built in (an ancestor of <exe> within three
 *   levels holding prompts/cumulative.txt: build/bin, build/san/bin).
 * <exe> is the directory of the running binary (/proc/self/exe).
 */
#ifndef INFTY_PATHS_H
#define INFTY_PATHS_H

enum infty_home_kind {
	INFTY_HOME_NONE,      /* none found */
	INFTY_HOME_ENV,       /* $INFTY_HOME */
	INFTY_HOME_INSTALLED, /* <exe>/../share/infty */
	INFTY_HOME_CHECKOUT,  /* the source tree the binary was built in */
};

/* The home directory (static string), or NULL with *kind INFTY_HOME_NONE.
 * kind may be NULL.  Computed once. */
const char *infty_path_home(enum infty_home_kind *kind);

/* <home>/prompts, or NULL when there is no home. */
const char *infty_path_prompts(void);

#endif
