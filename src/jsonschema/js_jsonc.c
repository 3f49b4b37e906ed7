/*
 * js_jsonc.c - js_accessor over json-c documents (the only engine file that
 * includes json-c headers).
 */
#include "js_jsonc.h"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#define O(n) ((struct json_object *) (n).p)

/* node type */
static js_type
jc_type(void *ctx, js_node n)
{
	(void) ctx;
	switch (json_object_get_type(O(n)))
	{
		case json_type_null: return JS_NULL;
		case json_type_boolean: return JS_BOOL;
		case json_type_double:
		case json_type_int: return JS_NUMBER;
		case json_type_string: return JS_STRING;
		case json_type_array: return JS_ARRAY;
		case json_type_object: return JS_OBJECT;
	}
	return JS_NULL;
}

/* boolean value */
static int
jc_boolean(void *ctx, js_node n)
{
	(void) ctx;
	return json_object_get_boolean(O(n)) ? 1 : 0;
}

/* number value */
static void
jc_number(void *ctx, js_node n, double *out, int *is_int)
{
	(void) ctx;
	if (json_object_is_type(O(n), json_type_int))
	{
		*out = (double) json_object_get_int64(O(n));
		*is_int = 1;
	}
	else
	{
		*out = json_object_get_double(O(n));
		*is_int = isfinite(*out) && floor(*out) == *out;
	}
}

/*
 * exact number text: json-c's parser keeps a double's source text as the
 * object's userdata (json_object_new_double_s), so 1e400 and 0.1 reach the
 * engine as written; doubles built in code have none (the engine then uses
 * the double).  Integers print exactly; json-c itself clamps integers
 * beyond 64 bits while parsing, which no adapter can undo.
 */
static int
jc_number_text(void *ctx, js_node n, const char **s, size_t *len)
{
	const char *t;

	(void) ctx;
	if (json_object_is_type(O(n), json_type_double))
		t = json_object_get_userdata(O(n));
	else
	{
		int64_t		i = json_object_get_int64(O(n));

		/* fast path: the double is exact, no text needed */
		if (i > -(INT64_C(1) << 53) && i < (INT64_C(1) << 53))
			return 0;
		t = json_object_get_string(O(n));
	}
	if (!t)
		return 0;
	*s = t;
	*len = strlen(t);
	return 1;
}

/* string bytes */
static void
jc_string(void *ctx, js_node n, const char **s, size_t *len)
{
	(void) ctx;
	*s = json_object_get_string(O(n));
	*len = (size_t) json_object_get_string_len(O(n));
}

/* array length */
static size_t
jc_array_size(void *ctx, js_node n)
{
	(void) ctx;
	return json_object_array_length(O(n));
}

/* array element */
static int
jc_array_get(void *ctx, js_node n, size_t i, js_node *out)
{
	(void) ctx;
	if (i >= json_object_array_length(O(n)))
		return 0;
	*out = js_jsonc_node(json_object_array_get_idx(O(n), i));
	return 1;
}

/* member count */
static size_t
jc_object_size(void *ctx, js_node n)
{
	(void) ctx;
	return (size_t) json_object_object_length(O(n));
}

/* member lookup (keys with embedded NUL are not supported by json-c) */
static int
jc_object_get(void *ctx, js_node n, const char *key, size_t klen, js_node *out)
{
	char		buf[256];
	struct json_object *v = NULL;
	int			found;

	(void) ctx;
	if (memchr(key, 0, klen))
		return 0;
	if (klen < sizeof buf)
	{
		memcpy(buf, key, klen);
		buf[klen] = 0;
		found = json_object_object_get_ex(O(n), buf, &v);
	}
	else
	{
		/* long key: linear scan */
		struct lh_entry *e;

		found = 0;
		for (e = json_object_get_object(O(n))->head; e; e = e->next)
		{
			const char *k = (const char *) lh_entry_k(e);

			if (strlen(k) == klen && memcmp(k, key, klen) == 0)
			{
				v = (struct json_object *) lh_entry_v(e);
				found = 1;
				break;
			}
		}
	}
	if (!found)
		return 0;
	*out = js_jsonc_node(v);
	return 1;
}

/* member iteration: state[0] = current lh_entry, state[1] = started flag */
static int
jc_object_next(void *ctx, js_node n, js_iter *it, const char **key, size_t *klen,
			   js_node *out)
{
	struct lh_entry *e;

	(void) ctx;
	if (!it->state[1])
	{
		e = json_object_get_object(O(n))->head;
		it->state[1] = 1;
	}
	else
	{
		e = (struct lh_entry *) it->state[0];
		e = e ? e->next : NULL;
	}
	it->state[0] = (uintptr_t) e;
	if (!e)
		return 0;
	*key = (const char *) lh_entry_k(e);
	*klen = strlen(*key);
	*out = js_jsonc_node((struct json_object *) lh_entry_v(e));
	return 1;
}

static const js_accessor jsonc_accessor = {
	NULL, jc_type, jc_boolean, jc_number, jc_number_text, jc_string, jc_array_size,
	jc_array_get, jc_object_size, jc_object_get, jc_object_next
};

/* the accessor reading json-c documents */
const js_accessor *
js_jsonc_accessor(void)
{
	return &jsonc_accessor;
}

/* wrap a json-c object as a node */
js_node
js_jsonc_node(struct json_object *obj)
{
	js_node		n;

	n.p = obj;
	n.q = NULL;
	n.i = 0;
	return n;
}
