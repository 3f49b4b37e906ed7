/*
 * otlp_decode.c
 *	  Decoding of OTLP/JSON trace requests (ExportTraceServiceRequest) for
 *	  prefactor_otlp_export (sql/install/51-otlp.sql): one row per span with
 *	  its resource's service name, version and environment, its OTel ids,
 *	  span type, status, times, payload and result as prefactor stores them.
 *	  A request that does not decode raises invalid_parameter_value naming
 *	  where (resourceSpans[i].scopeSpans[j].spans[k]); the export answers 400.
 *
 *	  Decoding is the bulk of an export's work (every attribute of every
 *	  span is an AnyValue to unwrap), so it is C over the jsonb as received;
 *	  what is looked up and stored stays in SQL.
 *
 *	  Mapping (the GenAI semantic conventions):
 *	  - span type: gen_ai.operation.name; execute_tool as
 *		execute_tool:<gen_ai.tool.name>; without one, the span's name;
 *	  - payload: {name, kind, attributes, input}; input from
 *		gen_ai.input.messages, else gen_ai.prompt, else the indexed
 *		gen_ai.prompt.N.<field> attributes, else gen_ai.tool.call.arguments;
 *	  - result: {output, usage, error}; output likewise from
 *		gen_ai.output.messages, gen_ai.completion, gen_ai.completion.N.*,
 *		gen_ai.tool.call.result; usage from gen_ai.usage.* (prompt_tokens and
 *		completion_tokens as input_tokens and output_tokens); error {message}
 *		for status ERROR (the status message, else the exception event's);
 *		NULL when empty. Message attributes sent as JSON text are parsed.
 */
#include "postgres.h"

#include <ctype.h>

#include "common/jsonapi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "core/excerpt.h"

#define SPAN_TYPE_MAX 200
#define SHORT_TEXT_MAX 200

/* Where in the request a problem is, for messages. */
typedef struct Where
{
	int			resource;
	int			scope;
	int			span;
} Where;

static void bad_request(const Where *w, const char *fmt,...) pg_attribute_printf(2, 3) pg_attribute_noreturn();

static void
bad_request(const Where *w, const char *fmt,...)
{
	char		buf[512];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (w->span >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resourceSpans[%d].scopeSpans[%d].spans[%d]: %s", w->resource, w->scope, w->span, buf)));
	else if (w->scope >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resourceSpans[%d].scopeSpans[%d]: %s", w->resource, w->scope, buf)));
	else if (w->resource >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("resourceSpans[%d]: %s", w->resource, buf)));
	ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", buf)));
}

/* The type name of a JSON value, for messages. */
static const char *
type_name(const JsonbValue *v)
{
	if (v == NULL)
		return "absent";
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "an object" : "an array";
		default:
			return "another value";
	}
}

static bool
is_object(const JsonbValue *v)
{
	return v && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(const JsonbValue *v)
{
	return v && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

/* A member of an object container; NULL when absent or JSON null. */
static JsonbValue *
member(JsonbContainer *obj, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
	return (v && v->type == jbvNull) ? NULL : v;
}

/* A member that must be an array (or absent): its container, or NULL. */
static JsonbContainer *
array_member(JsonbContainer *obj, const char *key, const Where *w)
{
	JsonbValue *v = member(obj, key);

	if (v == NULL)
		return NULL;
	if (!is_array(v))
		bad_request(w, "%s must be an array, not %s", key, type_name(v));
	return v->val.binary.data;
}

static char *
string_of(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
string_is(const JsonbValue *v, const char *s)
{
	return v && v->type == jbvString && v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

/* A standalone jsonb as a value that pushJsonbValue takes. */
static JsonbValue
jsonb_as_value(Jsonb *jb)
{
	JsonbValue	v;

	if (JsonbExtractScalar(&jb->root, &v))
		return v;
	v.type = jbvBinary;
	v.val.binary.data = &jb->root;
	v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	return v;
}

static JsonbValue
string_value(const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	return v;
}

static void
push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k = string_value(key);

	pushJsonbValue(st, WJB_KEY, &k);
}

/* The numeric of a string of decimal digits (with an optional minus), or false. */
static bool
int_text(const char *s, int len, bool allow_minus)
{
	int			i = 0;

	if (allow_minus && len > 0 && s[0] == '-')
		i = 1;
	if (len - i < 1 || len - i > 20)
		return false;
	for (; i < len; i++)
		if (!isdigit((unsigned char) s[i]))
			return false;
	return true;
}

/*
 * An AnyValue as plain JSON: stringValue, boolValue, intValue (a number;
 * int64s often come as strings), doubleValue, arrayValue as an array,
 * kvlistValue as an object, bytesValue as its base64 text; anything else null.
 */
static JsonbValue
any_value(JsonbValue *v, int depth)
{
	JsonbValue	out;
	JsonbValue *x;
	JsonbContainer *c;

	check_stack_depth();
	out.type = jbvNull;
	if (!is_object(v))
		return out;
	c = v->val.binary.data;
	if ((x = member(c, "stringValue")) != NULL)
		return x->type == jbvString ? *x : out;
	if ((x = member(c, "intValue")) != NULL)
	{
		if (x->type == jbvNumeric)
			return *x;
		if (x->type == jbvString && int_text(x->val.string.val, x->val.string.len, true))
		{
			out.type = jbvNumeric;
			out.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(string_of(x)),
																  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
			return out;
		}
		return *x;
	}
	if ((x = member(c, "boolValue")) != NULL)
		return *x;
	if ((x = member(c, "doubleValue")) != NULL)
		return *x;
	if ((x = member(c, "arrayValue")) != NULL || (x = member(c, "kvlistValue")) != NULL)
	{
		bool		kvlist = member(c, "arrayValue") == NULL;
		JsonbParseState *st = NULL;
		JsonbValue *values = is_object(x) ? member(x->val.binary.data, "values") : NULL;
		JsonbValue *res;

		pushJsonbValue(&st, kvlist ? WJB_BEGIN_OBJECT : WJB_BEGIN_ARRAY, NULL);
		if (is_array(values))
		{
			JsonbContainer *a = values->val.binary.data;
			int			n = JsonContainerSize(a);

			for (int i = 0; i < n; i++)
			{
				JsonbValue *e = getIthJsonbValueFromContainer(a, i);
				JsonbValue	conv;

				if (kvlist)
				{
					JsonbValue *k = is_object(e) ? member(e->val.binary.data, "key") : NULL;

					if (k == NULL || k->type != jbvString)
						continue;
					pushJsonbValue(&st, WJB_KEY, k);
					conv = any_value(member(e->val.binary.data, "value"), depth + 1);
					pushJsonbValue(&st, WJB_VALUE, &conv);
				}
				else
				{
					conv = any_value(e, depth + 1);
					pushJsonbValue(&st, WJB_ELEM, &conv);
				}
			}
		}
		res = pushJsonbValue(&st, kvlist ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
		return jsonb_as_value(JsonbValueToJsonb(res));
	}
	if ((x = member(c, "bytesValue")) != NULL)
		return *x;
	return out;
}

/* A message attribute sent as JSON text, parsed when it parses; else as is. */
static JsonbValue
json_text(JsonbValue v)
{
	const char *s;
	int			len;
	int			i = 0;
	JsonLexContext *lex;
	char	   *copy;

	if (v.type != jbvString)
		return v;
	s = v.val.string.val;
	len = v.val.string.len;
	while (i < len && isspace((unsigned char) s[i]))
		i++;
	if (i == len || (s[i] != '[' && s[i] != '{'))
		return v;
	copy = pnstrdup(s, len);
	lex = makeJsonLexContextCstringLen(copy, len, GetDatabaseEncoding(), false);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return v;
	return jsonb_as_value(DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(copy))));
}

/* One attribute of a span. */
typedef struct Attr
{
	JsonbValue *key;
	JsonbValue	value;
	int			index;			/* gen_ai.prompt.N / completion.N: N, else -1 */
	int			part;			/* 0 prompt, 1 completion */
	const char *field;			/* the field after N. */
	bool		moved;			/* goes to input, output or usage */
} Attr;

static bool
key_is(const JsonbValue *k, const char *s)
{
	return string_is(k, s);
}

static bool
key_prefix(const JsonbValue *k, const char *prefix)
{
	int			n = strlen(prefix);

	return k->val.string.len > n && memcmp(k->val.string.val, prefix, n) == 0;
}

/* Reads a list of KeyValue; raises unless an array of objects with string keys. */
static Attr *
read_attributes(JsonbContainer *obj, const char *what, const Where *w, int *count)
{
	JsonbContainer *a = array_member(obj, what, w);
	int			n = a ? JsonContainerSize(a) : 0;
	Attr	   *attrs = palloc0(sizeof(Attr) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(a, i);
		JsonbValue *k = is_object(e) ? member(e->val.binary.data, "key") : NULL;

		if (k == NULL || k->type != jbvString)
			bad_request(w, "%s[%d] must be an object with a string key", what, i);
		attrs[i].key = k;
		attrs[i].value = any_value(member(e->val.binary.data, "value"), 0);
		attrs[i].index = -1;
	}
	*count = n;
	return attrs;
}

/* The value of the last attribute with this key, or NULL. */
static JsonbValue *
attr(Attr *attrs, int n, const char *key)
{
	for (int i = n - 1; i >= 0; i--)
		if (key_is(attrs[i].key, key))
			return &attrs[i].value;
	return NULL;
}

/* A string attribute's value as C text, or NULL. */
static char *
attr_text(Attr *attrs, int n, const char *key)
{
	JsonbValue *v = attr(attrs, n, key);

	return v && v->type == jbvString ? string_of(v) : NULL;
}

/* Unix nanoseconds (1 to 2^64-1, a digit string or an integral number) as a time. */
static bool
nanos_time(JsonbValue *v, TimestampTz *out)
{
	char	   *s;
	uint64		ns = 0;

	if (v == NULL)
		return false;
	if (v->type == jbvString)
		s = string_of(v);
	else if (v->type == jbvNumeric)
		s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else
		return false;
	if (!int_text(s, strlen(s), false))
		return false;
	for (char *p = s; *p; p++)
	{
		int			d = *p - '0';

		if (ns > (PG_UINT64_MAX - d) / 10)
			return false;
		ns = ns * 10 + d;
	}
	if (ns == 0)
		return false;
	*out = (TimestampTz) (ns / 1000) - (TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
	return IS_VALID_TIMESTAMP(*out);
}

/* An OTel id: hex digits of the given length, not all zero; lower-cased, or NULL. */
static char *
otel_id(JsonbValue *v, int digits)
{
	char	   *s;
	bool		zero = true;

	if (v == NULL || v->type != jbvString || v->val.string.len != digits)
		return NULL;
	s = string_of(v);
	for (int i = 0; i < digits; i++)
	{
		if (!isxdigit((unsigned char) s[i]))
			return NULL;
		s[i] = tolower((unsigned char) s[i]);
		if (s[i] != '0')
			zero = false;
	}
	return zero ? NULL : s;
}

static const char *
value_excerpt(JsonbValue *v)
{
	if (v == NULL)
		return "absent";
	if (v->type == jbvString)
		return prefactor_excerpt(psprintf("\"%s\"", string_of(v)));
	if (v->type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	return type_name(v);
}

/* An int of a number or a digit string, or def. */
static int64
int_of(JsonbValue *v, int64 def)
{
	char	   *s;

	if (v == NULL)
		return def;
	if (v->type == jbvNumeric)
		s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvString)
		s = string_of(v);
	else
		return def;
	if (!int_text(s, strlen(s), true) || strlen(s) > 18)
		return def;
	return strtoll(s, NULL, 10);
}

static const char *const kind_names[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
static const char *const kind_enums[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"};

static const char *
span_kind(JsonbValue *v)
{
	int64		k = int_of(v, -1);

	if (v && v->type == jbvString)
		for (int i = 0; i < lengthof(kind_enums); i++)
			if (string_is(v, kind_enums[i]))
				return kind_names[i];
	return k >= 0 && k < lengthof(kind_names) ? kind_names[k] : "unspecified";
}

static int
cmp_indexed(const void *a, const void *b)
{
	const Attr *x = *(const Attr *const *) a;
	const Attr *y = *(const Attr *const *) b;

	if (x->part != y->part)
		return x->part - y->part;
	return x->index - y->index;
}

/*
 * OpenLLMetry's older indexed form (gen_ai.prompt.0.role, ...): the part's
 * messages as an array of objects in index order; false when there are none.
 */
static bool
indexed_messages(Attr *attrs, int n, int part, JsonbValue *out)
{
	Attr	  **list = palloc(sizeof(Attr *) * Max(n, 1));
	int			m = 0;
	JsonbParseState *st = NULL;
	JsonbValue *res;

	for (int i = 0; i < n; i++)
		if (attrs[i].index >= 0 && attrs[i].part == part)
			list[m++] = &attrs[i];
	if (m == 0)
		return false;
	qsort(list, m, sizeof(Attr *), cmp_indexed);
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < m; i++)
	{
		if (i == 0 || list[i]->index != list[i - 1]->index)
		{
			if (i > 0)
				pushJsonbValue(&st, WJB_END_OBJECT, NULL);
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		}
		push_key(&st, list[i]->field);
		pushJsonbValue(&st, WJB_VALUE, &list[i]->value);
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	res = pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	*out = jsonb_as_value(JsonbValueToJsonb(res));
	return true;
}

/* Marks the attributes that leave for input, output or usage. */
static void
mark_moved(Attr *attrs, int n)
{
	static const char *const moved_keys[] = {"gen_ai.input.messages", "gen_ai.output.messages",
		"gen_ai.prompt", "gen_ai.completion", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"};

	for (int i = 0; i < n; i++)
	{
		JsonbValue *k = attrs[i].key;

		for (int j = 0; j < lengthof(moved_keys); j++)
			if (key_is(k, moved_keys[j]))
				attrs[i].moved = true;
		if (key_prefix(k, "gen_ai.usage."))
			attrs[i].moved = true;
		else if (key_prefix(k, "gen_ai.prompt.") || key_prefix(k, "gen_ai.completion."))
		{
			char	   *s = string_of(k);
			int			part = s[7] == 'p' ? 0 : 1;
			char	   *p = s + (part == 0 ? 14 : 18);
			char	   *dot = strchr(p, '.');

			if (dot && dot > p && dot - p <= 6 && dot[1] != '\0' && int_text(p, dot - p, false))
			{
				attrs[i].index = atoi(p);
				attrs[i].part = part;
				attrs[i].field = dot + 1;
				attrs[i].moved = true;
			}
		}
	}
}

/* The first of the candidates present (messages parsed from JSON text). */
static bool
first_of(Attr *attrs, int n, const char *a, const char *b, int indexed_part, const char *c, JsonbValue *out)
{
	JsonbValue *v;

	if ((v = attr(attrs, n, a)) != NULL || (v = attr(attrs, n, b)) != NULL)
	{
		*out = json_text(*v);
		return true;
	}
	if (indexed_messages(attrs, n, indexed_part, out))
		return true;
	if ((v = attr(attrs, n, c)) != NULL)
	{
		*out = json_text(*v);
		return true;
	}
	return false;
}

/* The error message of a failed span: its status message, else its exception event's. */
static char *
error_message(JsonbContainer *span, JsonbValue *status, const Where *w)
{
	JsonbValue *m = is_object(status) ? member(status->val.binary.data, "message") : NULL;
	JsonbContainer *events;

	if (m && m->type == jbvString && m->val.string.len > 0)
		return string_of(m);
	events = array_member(span, "events", w);
	if (events == NULL)
		return NULL;
	for (int i = 0; i < (int) JsonContainerSize(events); i++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(events, i);

		if (is_object(e) && string_is(member(e->val.binary.data, "name"), "exception"))
		{
			int			n;
			Attr	   *attrs = read_attributes(e->val.binary.data, "attributes", w, &n);

			return attr_text(attrs, n, "exception.message");
		}
	}
	return NULL;
}

enum
{
	C_RESOURCE, C_SERVICE, C_VERSION, C_ENVIRONMENT, C_TRACE, C_SPAN, C_PARENT, C_ROOT, C_TYPE,
	C_STATUS, C_STARTED, C_FINISHED, C_PAYLOAD, C_RESULT, C_NCOLS
};

/* Decodes one span into a row. */
static void
decode_span(JsonbValue *sv, const Where *w, Datum *values, bool *nulls)
{
	JsonbContainer *span;
	JsonbValue *v;
	char	   *trace;
	char	   *id;
	char	   *parent = NULL;
	TimestampTz started;
	TimestampTz finished;
	JsonbValue *status;
	JsonbValue *name;
	int64		flags;
	bool		failed;
	Attr	   *attrs;
	int			n;
	char	   *op;
	char	   *tool;
	char	   *type;
	JsonbParseState *st = NULL;
	JsonbValue	x;
	JsonbValue *res;
	bool		any_result = false;

	if (!is_object(sv))
		bad_request(w, "a span must be a JSON object, not %s", type_name(sv));
	span = sv->val.binary.data;
	if ((trace = otel_id(v = member(span, "traceId"), 32)) == NULL)
		bad_request(w, "traceId must be 32 hex digits, not all zero, not %s", value_excerpt(v));
	if ((id = otel_id(v = member(span, "spanId"), 16)) == NULL)
		bad_request(w, "spanId must be 16 hex digits, not all zero, not %s", value_excerpt(v));
	v = member(span, "parentSpanId");
	if (v && !(v->type == jbvString && v->val.string.len == 0) && (parent = otel_id(v, 16)) == NULL)
		bad_request(w, "parentSpanId must be empty or 16 hex digits, not %s", value_excerpt(v));
	if (parent && strcmp(parent, id) == 0)
		bad_request(w, "a span cannot be its own parent");
	if (!nanos_time(v = member(span, "startTimeUnixNano"), &started))
		bad_request(w, "startTimeUnixNano must be unix nanoseconds (1 to 2^64-1), not %s", value_excerpt(v));
	if (!nanos_time(v = member(span, "endTimeUnixNano"), &finished))
		bad_request(w, "endTimeUnixNano must be unix nanoseconds (1 to 2^64-1), not %s", value_excerpt(v));
	if (finished < started)
		bad_request(w, "endTimeUnixNano is before startTimeUnixNano");
	name = member(span, "name");
	if (name && name->type != jbvString)
		bad_request(w, "name must be a string, not %s", type_name(name));
	status = member(span, "status");
	if (status && !is_object(status))
		bad_request(w, "status must be an object, not %s", type_name(status));
	v = member(span, "flags");
	if (v && v->type != jbvNumeric)
		bad_request(w, "flags must be a number, not %s", type_name(v));
	flags = int_of(v, 0);
	v = status ? member(status->val.binary.data, "code") : NULL;
	failed = int_of(v, 0) == 2 || string_is(v, "STATUS_CODE_ERROR");

	attrs = read_attributes(span, "attributes", w, &n);
	mark_moved(attrs, n);
	op = attr_text(attrs, n, "gen_ai.operation.name");
	tool = attr_text(attrs, n, "gen_ai.tool.name");
	if (op && strcmp(op, "execute_tool") == 0 && tool && *tool)
		type = psprintf("execute_tool:%s", tool);
	else if (op && *op)
		type = op;
	else if (name && name->val.string.len > 0)
		type = string_of(name);
	else
		type = "span";
	if (pg_mbstrlen(type) > SPAN_TYPE_MAX)
		type[pg_mbcharcliplen(type, strlen(type), SPAN_TYPE_MAX)] = '\0';

	/* payload: name, kind, the attributes that stay, input */
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	push_key(&st, "name");
	x = name ? *name : string_value("");
	pushJsonbValue(&st, WJB_VALUE, &x);
	push_key(&st, "kind");
	x = string_value(span_kind(member(span, "kind")));
	pushJsonbValue(&st, WJB_VALUE, &x);
	push_key(&st, "attributes");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
		if (!attrs[i].moved)
		{
			pushJsonbValue(&st, WJB_KEY, attrs[i].key);
			pushJsonbValue(&st, WJB_VALUE, &attrs[i].value);
		}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	if (first_of(attrs, n, "gen_ai.input.messages", "gen_ai.prompt", 0, "gen_ai.tool.call.arguments", &x))
	{
		push_key(&st, "input");
		pushJsonbValue(&st, WJB_VALUE, &x);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	values[C_PAYLOAD] = JsonbPGetDatum(JsonbValueToJsonb(res));

	/* result: output, usage, error; NULL when empty */
	st = NULL;
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (first_of(attrs, n, "gen_ai.output.messages", "gen_ai.completion", 1, "gen_ai.tool.call.result", &x))
	{
		push_key(&st, "output");
		pushJsonbValue(&st, WJB_VALUE, &x);
		any_result = true;
	}
	{
		int			usage = 0;

		for (int i = 0; i < n; i++)
			if (key_prefix(attrs[i].key, "gen_ai.usage."))
			{
				char	   *k = string_of(attrs[i].key) + strlen("gen_ai.usage.");

				if (usage++ == 0)
				{
					push_key(&st, "usage");
					pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
				}
				push_key(&st, strcmp(k, "prompt_tokens") == 0 ? "input_tokens" :
						 strcmp(k, "completion_tokens") == 0 ? "output_tokens" : k);
				pushJsonbValue(&st, WJB_VALUE, &attrs[i].value);
			}
		if (usage > 0)
		{
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
			any_result = true;
		}
	}
	if (failed)
	{
		char	   *message = error_message(span, status, w);

		push_key(&st, "error");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		push_key(&st, "message");
		if (message)
			x = string_value(message);
		else
			x.type = jbvNull;
		pushJsonbValue(&st, WJB_VALUE, &x);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		any_result = true;
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	nulls[C_RESULT] = !any_result;
	values[C_RESULT] = any_result ? JsonbPGetDatum(JsonbValueToJsonb(res)) : (Datum) 0;

	values[C_TRACE] = CStringGetTextDatum(trace);
	values[C_SPAN] = CStringGetTextDatum(id);
	nulls[C_PARENT] = parent == NULL;
	values[C_PARENT] = parent ? CStringGetTextDatum(parent) : (Datum) 0;
	/* a parent flagged remote (SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE | _IS_REMOTE) is another service's */
	values[C_ROOT] = BoolGetDatum(parent == NULL || (flags & 0x300) == 0x300);
	values[C_TYPE] = CStringGetTextDatum(type);
	values[C_STATUS] = CStringGetTextDatum(failed ? "failed" : "complete");
	values[C_STARTED] = TimestampTzGetDatum(started);
	values[C_FINISHED] = TimestampTzGetDatum(finished);
}

/* A blank string counts as absent. */
static char *
unless_blank(char *s)
{
	for (char *p = s; p && *p; p++)
		if (!isspace((unsigned char) *p))
			return s;
	return NULL;
}

/*
 * A resource attribute's string value, cut to SHORT_TEXT_MAX characters, or
 * NULL (absent or blank: a blank service.version is no version).
 */
static Datum
short_attr(Attr *attrs, int n, const char *key, const char *older, bool *isnull)
{
	char	   *s = unless_blank(attr_text(attrs, n, key));

	if (s == NULL && older)
		s = unless_blank(attr_text(attrs, n, older));
	*isnull = s == NULL;
	if (s == NULL)
		return (Datum) 0;
	if (pg_mbstrlen(s) > SHORT_TEXT_MAX)
		s[pg_mbcharcliplen(s, strlen(s), SHORT_TEXT_MAX)] = '\0';
	return CStringGetTextDatum(s);
}

/*
 * otlp_decode(request jsonb): one row per span of an ExportTraceServiceRequest
 * (see the head of this file); invalid_parameter_value for a request that
 * does not decode.
 */
PG_FUNCTION_INFO_V1(prefactor_otlp_decode);
Datum
prefactor_otlp_decode(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Jsonb	   *request;
	JsonbContainer *resources;
	Where		w = {-1, -1, -1};
	MemoryContext per_span;
	MemoryContext outer;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		bad_request(&w, "the request must be a JSON object (ExportTraceServiceRequest), not empty");
	request = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(request))
		bad_request(&w, "the request must be a JSON object (ExportTraceServiceRequest), not %s",
					JB_ROOT_IS_SCALAR(request) ? "a scalar" : "an array");
	resources = array_member(&request->root, "resourceSpans", &w);
	if (resources == NULL)
		PG_RETURN_NULL();
	per_span = AllocSetContextCreate(CurrentMemoryContext, "otlp_decode span", ALLOCSET_DEFAULT_SIZES);
	for (int r = 0; r < (int) JsonContainerSize(resources); r++)
	{
		JsonbValue *rv = getIthJsonbValueFromContainer(resources, r);
		JsonbValue *resource;
		JsonbContainer *scopes;
		Attr	   *rattrs = NULL;
		int			rn = 0;
		Datum		values[C_NCOLS];
		bool		nulls[C_NCOLS] = {0};

		w.resource = r;
		w.scope = w.span = -1;
		if (!is_object(rv))
			bad_request(&w, "must be an object, not %s", type_name(rv));
		resource = member(rv->val.binary.data, "resource");
		if (resource && !is_object(resource))
			bad_request(&w, "resource must be an object, not %s", type_name(resource));
		if (resource)
			rattrs = read_attributes(resource->val.binary.data, "attributes", &w, &rn);
		values[C_RESOURCE] = Int32GetDatum(r + 1);
		values[C_SERVICE] = short_attr(rattrs, rn, "service.name", NULL, &nulls[C_SERVICE]);
		values[C_VERSION] = short_attr(rattrs, rn, "service.version", NULL, &nulls[C_VERSION]);
		values[C_ENVIRONMENT] = short_attr(rattrs, rn, "deployment.environment.name", "deployment.environment",
										   &nulls[C_ENVIRONMENT]);
		scopes = array_member(rv->val.binary.data, "scopeSpans", &w);
		for (int q = 0; scopes && q < (int) JsonContainerSize(scopes); q++)
		{
			JsonbValue *qv = getIthJsonbValueFromContainer(scopes, q);
			JsonbContainer *spans;

			w.scope = q;
			w.span = -1;
			if (!is_object(qv))
				bad_request(&w, "must be an object, not %s", type_name(qv));
			spans = array_member(qv->val.binary.data, "spans", &w);
			for (int s = 0; spans && s < (int) JsonContainerSize(spans); s++)
			{
				w.span = s;
				outer = MemoryContextSwitchTo(per_span);
				decode_span(getIthJsonbValueFromContainer(spans, s), &w, values, nulls);
				MemoryContextSwitchTo(outer);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
				MemoryContextReset(per_span);
			}
		}
	}
	return (Datum) 0;
}
