/*
 * error.h - error codes shared by every infty library module.
 *
 * Library functions return 0 (or a positive count) on success and one of the
 * negative codes below on failure.  They never print and never exit; handles
 * carry a detail string (e.g. infty_reader_detail()) for the one-line message
 * a tool prints.
 */
#ifndef INFTY_ERROR_H
#define INFTY_ERROR_H

enum infty_err {
	INFTY_OK = 0,
	INFTY_ENOMEM = -1,       /* allocation failed */
	INFTY_EIO = -2,          /* read/write/open/rename failed; errno kept in detail */
	INFTY_EJSON = -3,        /* a line is not one valid JSON value */
	INFTY_EUTF8 = -4,        /* invalid UTF-8 inside a record */
	INFTY_ETRUNCATED = -5,   /* a .zst stream ends in the middle of a frame */
	INFTY_ECORRUPT = -6,     /* a .zst stream is damaged */
	INFTY_EINVAL = -7,       /* bad argument or configuration */
	INFTY_ESCHEMA = -8,      /* a record lacks a field or has the wrong type */
	INFTY_EUNSUPPORTED = -9, /* a valid input we deliberately do not implement */
	INFTY_ETOOBIG = -10,     /* a size limit was exceeded */
	INFTY_EHTTP = -11,       /* an HTTP transfer failed */
	INFTY_ECANCELED = -12,   /* stopped on request (signal) */
};

/* A short, lowercase, static description of an error code. */
const char *infty_strerror(int err);

#endif
