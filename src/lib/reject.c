/* reject.c - the common reject record (see reject.h). */
#include "infty/reject.h"
#include "infty/error.h"
#include "infty/json_write.h"
#include "infty/utf8.h"

#include <json.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int infty_base64_append(struct infty_buf *b, const void *data, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *u = data;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)u[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)u[i + 1] << 8;
		if (i + 2 < n)
			v |= u[i + 2];
		char q[4] = {al[v >> 18], al[(v >> 12) & 63], i + 1 < n ? al[(v >> 6) & 63] : '=',
		             i + 2 < n ? al[v & 63] : '='};
		if (infty_buf_append(b, q, 4))
			return INFTY_ENOMEM;
	}
	return 0;
}

static int put(struct infty_buf *b, const char *s)
{
	return infty_buf_append(b, s, strlen(s));
}

static int put_str(struct infty_buf *b, const char *s)
{
	return s ? infty_json_write_string(b, s, strlen(s)) : put(b, "null");
}

int infty_reject_format(struct infty_buf *b, const char *stage, const struct infty_reject *r)
{
	char num[32];
	snprintf(num, sizeof num, "%llu", (unsigned long long)r->line);
	int rc = put(b, "{\"stage\":");
	rc = rc ? rc : put_str(b, stage);
	rc = rc ? rc : put(b, ",\"file\":");
	rc = rc ? rc : put_str(b, r->file ? r->file : "");
	rc = rc ? rc : put(b, ",\"line\":");
	rc = rc ? rc : put(b, num);
	rc = rc ? rc : put(b, ",\"reason\":");
	rc = rc ? rc : put_str(b, r->reason);
	rc = rc ? rc : put(b, ",\"detail\":");
	rc = rc ? rc : put_str(b, r->detail ? r->detail : "");
	rc = rc ? rc : put(b, ",\"id\":");
	rc = rc ? rc : put_str(b, r->id);
	if (!rc && r->extra) {
		json_object_object_foreach(r->extra, key, val)
		{
			rc = rc ? rc : put(b, ",");
			rc = rc ? rc : put_str(b, key);
			rc = rc ? rc : put(b, ":");
			rc = rc ? rc : (val ? infty_json_write(b, val) : put(b, "null"));
		}
	}
	if (!rc && r->raw && infty_utf8_valid(r->raw, r->raw_len)) {
		rc = put(b, ",\"raw\":");
		rc = rc ? rc : infty_json_write_string(b, r->raw, r->raw_len);
	} else if (!rc && r->raw) {
		/* Not valid UTF-8: keep the bytes as base64, lossless and readable. */
		rc = put(b, ",\"raw\":null,\"raw_base64\":\"");
		rc = rc ? rc : infty_base64_append(b, r->raw, r->raw_len);
		rc = rc ? rc : put(b, "\"");
	}
	return rc ? rc : put(b, "}");
}
