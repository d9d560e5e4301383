/*
 * seg_split_ref.h - the reference (pre-optimisation) boundary scan and tag
 * split, same contracts as infty_seg_protect, infty_seg_find_bounds and
 * infty_seg_split_tagged in src/segment/seg.h.  Tests, fuzz and bench only.
 */
#ifndef INFTY_SEG_SPLIT_REF_H
#define INFTY_SEG_SPLIT_REF_H

#include "../../src/segment/seg.h"

int infty_segref_protect(const char *s, size_t n, struct infty_seg_bounds *b);
int infty_segref_find_bounds(const char *s, size_t n, struct infty_seg_bounds *b);
enum infty_seg_reason infty_segref_split_tagged(const char *s, size_t n, const char **r,
                                                size_t *rlen, const char **c, size_t *clen);

#endif
