/* reject.c - the common reject record (see reject.h). */
#include "infty/reject.h"
#include "infty/error.h"
#include "infty/json_write.h"
#include "infty/utf8.h"

#include <json.h>
#include <stdint.h>

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

/* Add key: value, where a NULL value (allocation failure) fails the whole. */
static int add(struct json_object *o, const char *key, struct json_object *v, int may_be_null)
{
	if (!v && !may_be_null)
		return -1;
	return json_object_object_add(o, key, v);
}

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *infty_reject_new(const char *stage, const char *file, uint64_t line,
                                     const char *reason, const char *detail, const char *id,
                                     const char *raw, size_t raw_len)
{
	struct json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	int rc = add(o, "stage", json_object_new_string(stage), 0) ||
	         add(o, "file", json_object_new_string(file), 0) ||
	         add(o, "line", json_object_new_int64((int64_t)line), 0) ||
	         add(o, "reason", json_object_new_string(reason), 0) ||
	         add(o, "detail", json_object_new_string(detail ? detail : ""), 0) ||
	         add(o, "id", str_or_null(id), !id);
	if (!rc && infty_utf8_valid(raw, raw_len)) {
		rc = add(o, "raw", json_object_new_string_len(raw, (int)raw_len), 0);
	} else if (!rc) {
		struct infty_buf b = {0};
		rc = add(o, "raw", NULL, 1) || infty_base64_append(&b, raw, raw_len) ||
		     add(o, "raw_base64",
		         json_object_new_string_len(b.data ? b.data : "", (int)b.len), 0);
		infty_buf_release(&b);
	}
	if (rc) {
		json_object_put(o);
		return NULL;
	}
	return o;
}
