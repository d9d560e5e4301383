/* error.c - descriptions of infty's error codes. */
#include "infty/error.h"

const char *infty_strerror(int err)
{
	switch (err) {
	case INFTY_OK:
		return "success";
	case INFTY_ENOMEM:
		return "out of memory";
	case INFTY_EIO:
		return "input/output error";
	case INFTY_EJSON:
		return "invalid JSON";
	case INFTY_EUTF8:
		return "invalid UTF-8";
	case INFTY_ETRUNCATED:
		return "truncated zstd stream";
	case INFTY_ECORRUPT:
		return "corrupt zstd stream";
	case INFTY_EINVAL:
		return "invalid argument";
	case INFTY_ESCHEMA:
		return "missing or mistyped field";
	case INFTY_EUNSUPPORTED:
		return "unsupported";
	case INFTY_ETOOBIG:
		return "too big";
	case INFTY_EHTTP:
		return "http error";
	case INFTY_ECANCELED:
		return "canceled";
	}
	return "unknown error";
}
