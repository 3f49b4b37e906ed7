/*
 * jsonb_accessor.c
 *	  The JSON Schema engine's accessor over PostgreSQL's binary jsonb: the
 *	  engine walks a jsonb document in place, with no text round trip and no
 *	  copy into another JSON library. A node is either a container (p) or a
 *	  scalar JsonbValue (q). Lookups palloc in the current memory context,
 *	  which callers reset after each validation.
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "validation/jsonb_accessor.h"

/* The node for a value found inside a container. */
static js_node
node_for_value(JsonbValue *v)
{
	js_node		n = {NULL, NULL, 0};

	if (v->type == jbvBinary)
		n.p = v->val.binary.data;
	else
		n.q = v;
	return n;
}

/* The node of a whole jsonb document (a scalar root is unwrapped). */
js_node
jsonb_root_node(Jsonb *jb)
{
	js_node		n = {NULL, NULL, 0};

	if (JB_ROOT_IS_SCALAR(jb))
	{
		JsonbValue *v = palloc(sizeof(JsonbValue));

		JsonbExtractScalar(&jb->root, v);
		n.q = v;
	}
	else
		n.p = &jb->root;
	return n;
}

/* JSON type of a node. */
static js_type
jb_type(void *ctx, js_node n)
{
	const JsonbValue *v = n.q;

	if (n.p)
		return JsonContainerIsArray((JsonbContainer *) n.p) ? JS_ARRAY : JS_OBJECT;
	switch (v->type)
	{
		case jbvNull:
			return JS_NULL;
		case jbvBool:
			return JS_BOOL;
		case jbvNumeric:
			return JS_NUMBER;
		case jbvString:
			return JS_STRING;
		default:
			return JS_NULL;		/* jsonb documents hold no other scalar kinds */
	}
}

/* Boolean value of a node. */
static int
jb_boolean(void *ctx, js_node n)
{
	return ((const JsonbValue *) n.q)->val.boolean ? 1 : 0;
}

/* Numeric value of a node as a double (infinite when out of range). */
static void
jb_number(void *ctx, js_node n, double *out, int *is_integer)
{
	Numeric		num = ((const JsonbValue *) n.q)->val.numeric;
	double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   NumericGetDatum(num)));

	*out = d;
	*is_integer = isfinite(d) && floor(d) == d;
}

/*
 * Exact decimal text of a numeric node: the engine judges numbers on it
 * (1e400 is an integer, 0.3 a multiple of 0.1), never on a double.
 */
static int
jb_number_text(void *ctx, js_node n, const char **s, size_t *len)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out,
														   NumericGetDatum(((const JsonbValue *) n.q)->val.numeric)));

	*s = text;
	*len = strlen(text);
	return 1;
}

/* String bytes of a node (in place, not NUL-terminated). */
static void
jb_string(void *ctx, js_node n, const char **s, size_t *len)
{
	const JsonbValue *v = n.q;

	*s = v->val.string.val;
	*len = v->val.string.len;
}

/* Number of elements of an array node. */
static size_t
jb_array_size(void *ctx, js_node n)
{
	return JsonContainerSize((JsonbContainer *) n.p);
}

/* Element i of an array node. */
static int
jb_array_get(void *ctx, js_node n, size_t i, js_node *out)
{
	JsonbValue *v;

	if (i >= JsonContainerSize((JsonbContainer *) n.p))
		return 0;
	v = getIthJsonbValueFromContainer((JsonbContainer *) n.p, (uint32) i);
	if (v == NULL)
		return 0;
	*out = node_for_value(v);
	return 1;
}

/* Number of members of an object node. */
static size_t
jb_object_size(void *ctx, js_node n)
{
	return JsonContainerSize((JsonbContainer *) n.p);
}

/* Member of an object node by key. */
static int
jb_object_get(void *ctx, js_node n, const char *key, size_t keylen, js_node *out)
{
	JsonbValue *v = palloc(sizeof(JsonbValue));

	if (getKeyJsonValueFromContainer((JsonbContainer *) n.p, key, (int) keylen, v) == NULL)
	{
		pfree(v);
		return 0;
	}
	*out = node_for_value(v);
	return 1;
}

/* Next member of an object node, in jsonb's stored key order. */
static int
jb_object_next(void *ctx, js_node n, js_iter *it, const char **key, size_t *keylen,
			   js_node *out)
{
	JsonbIterator *iter = (JsonbIterator *) it->state[0];
	JsonbValue	k;
	JsonbValue *v;
	JsonbIteratorToken tok;

	if (it->state[1] == 2)
		return 0;				/* already exhausted */
	if (it->state[1] == 0)
	{
		iter = JsonbIteratorInit((JsonbContainer *) n.p);
		(void) JsonbIteratorNext(&iter, &k, true);	/* WJB_BEGIN_OBJECT */
		it->state[1] = 1;
	}
	tok = JsonbIteratorNext(&iter, &k, true);
	if (tok != WJB_KEY)
	{
		it->state[0] = 0;
		it->state[1] = 2;
		return 0;
	}
	v = palloc(sizeof(JsonbValue));
	(void) JsonbIteratorNext(&iter, v, true);	/* WJB_VALUE */
	it->state[0] = (uintptr_t) iter;
	*key = k.val.string.val;
	*keylen = k.val.string.len;
	*out = node_for_value(v);
	return 1;
}

static const js_accessor jsonb_accessor_ops = {
	NULL, jb_type, jb_boolean, jb_number, jb_number_text, jb_string,
	jb_array_size, jb_array_get, jb_object_size, jb_object_get, jb_object_next
};

/* The accessor the engine uses for jsonb documents. */
const js_accessor *
jsonb_accessor(void)
{
	return &jsonb_accessor_ops;
}
