/*
 * otlp_proto.c: OTLP/HTTP protobuf bodies as OTLP/JSON, and JSON answers as
 * protobuf (see otlp_proto.h).
 *
 * Decoding is table driven: each message of the trace request is a list of
 * fields (number, JSON name, type). A message is written as one JSON object
 * by one pass over its bytes per known field, in the table's order: repeated
 * fields become arrays of every occurrence, a scalar given more than once
 * takes the last, a singular message given more than once is the merge of
 * all of them (the protobuf rules), AnyValue's oneof the member given last.
 * Each pass checks every tag and length it reads, so a malformed message is
 * refused wherever it is; a pass touches only its own message's bytes (a
 * nested one is skipped by its length), so the work is the size times the
 * number of fields of a message (16 at most). Memory: the JSON, bounded by
 * max_json, and nothing per field but for a message given more than once.
 *
 * Field numbers (opentelemetry-proto v1):
 *   ExportTraceServiceRequest: 1 resource_spans
 *   ResourceSpans: 1 resource, 2 scope_spans, 3 schema_url
 *   Resource: 1 attributes, 2 dropped_attributes_count
 *   ScopeSpans: 1 scope, 2 spans, 3 schema_url
 *   InstrumentationScope: 1 name, 2 version, 3 attributes, 4 dropped_attributes_count
 *   Span: 1 trace_id, 2 span_id, 3 trace_state, 4 parent_span_id, 5 name,
 *     6 kind, 7 start_time_unix_nano, 8 end_time_unix_nano, 9 attributes,
 *     10 dropped_attributes_count, 11 events, 12 dropped_events_count,
 *     13 links, 14 dropped_links_count, 15 status, 16 flags
 *   Span.Event: 1 time_unix_nano, 2 name, 3 attributes, 4 dropped_attributes_count
 *   Span.Link: 1 trace_id, 2 span_id, 3 trace_state, 4 attributes,
 *     5 dropped_attributes_count, 6 flags
 *   Status: 2 message, 3 code
 *   KeyValue: 1 key, 2 value; KeyValueList: 1 values; ArrayValue: 1 values
 *   AnyValue (oneof): 1 string_value, 2 bool_value, 3 int_value,
 *     4 double_value, 5 array_value, 6 kvlist_value, 7 bytes_value
 *   ExportTraceServiceResponse: 1 partial_success
 *   ExportTracePartialSuccess: 1 rejected_spans, 2 error_message
 *   google.rpc.Status: 1 code, 2 message
 */
#include "otlp_proto.h"
#include "bounded_buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The messages
 * ------------------------------------------------------------------------ */
enum wire_type
{
	WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_SGROUP = 3, WT_EGROUP = 4, WT_I32 = 5
};

typedef enum field_type
{
	F_STRING,					/* string: UTF-8, JSON string */
	F_HEX,						/* bytes: an id, lower-case hex */
	F_BASE64,					/* bytes: base64 */
	F_UINT32,					/* varint: number */
	F_ENUM,						/* varint (int32): number */
	F_INT64,					/* varint: decimal string */
	F_BOOL,						/* varint: true or false */
	F_FIXED64,					/* 8 bytes: decimal string */
	F_FIXED32,					/* 4 bytes: number */
	F_DOUBLE,					/* 8 bytes: number ("NaN", "Infinity", "-Infinity") */
	F_MESSAGE					/* length-delimited message */
} field_type;

typedef struct message_desc message_desc;

typedef struct field_desc
{
	uint32_t	number;
	const char *json;
	field_type	type;
	bool		repeated;
	const message_desc *message;	/* F_MESSAGE */
} field_desc;

struct message_desc
{
	const char *name;
	const field_desc *fields;
	int			nfields;
	bool		oneof;			/* every field a member of one oneof */
};

#define FIELDS(a) a, (int) (sizeof(a) / sizeof(a[0]))

static const message_desc any_value_m;
static const message_desc key_value_m;

static const field_desc array_value_f[] = {
	{1, "values", F_MESSAGE, true, &any_value_m},
};
static const message_desc array_value_m = {"ArrayValue", FIELDS(array_value_f), false};

static const field_desc kvlist_f[] = {
	{1, "values", F_MESSAGE, true, &key_value_m},
};
static const message_desc kvlist_m = {"KeyValueList", FIELDS(kvlist_f), false};

static const field_desc any_value_f[] = {
	{1, "stringValue", F_STRING, false, NULL},
	{2, "boolValue", F_BOOL, false, NULL},
	{3, "intValue", F_INT64, false, NULL},
	{4, "doubleValue", F_DOUBLE, false, NULL},
	{5, "arrayValue", F_MESSAGE, false, &array_value_m},
	{6, "kvlistValue", F_MESSAGE, false, &kvlist_m},
	{7, "bytesValue", F_BASE64, false, NULL},
};
static const message_desc any_value_m = {"AnyValue", FIELDS(any_value_f), true};

static const field_desc key_value_f[] = {
	{1, "key", F_STRING, false, NULL},
	{2, "value", F_MESSAGE, false, &any_value_m},
};
static const message_desc key_value_m = {"KeyValue", FIELDS(key_value_f), false};

static const field_desc resource_f[] = {
	{1, "attributes", F_MESSAGE, true, &key_value_m},
	{2, "droppedAttributesCount", F_UINT32, false, NULL},
};
static const message_desc resource_m = {"Resource", FIELDS(resource_f), false};

static const field_desc scope_f[] = {
	{1, "name", F_STRING, false, NULL},
	{2, "version", F_STRING, false, NULL},
	{3, "attributes", F_MESSAGE, true, &key_value_m},
	{4, "droppedAttributesCount", F_UINT32, false, NULL},
};
static const message_desc scope_m = {"InstrumentationScope", FIELDS(scope_f), false};

static const field_desc status_f[] = {
	{2, "message", F_STRING, false, NULL},
	{3, "code", F_ENUM, false, NULL},
};
static const message_desc status_m = {"Status", FIELDS(status_f), false};

static const field_desc event_f[] = {
	{1, "timeUnixNano", F_FIXED64, false, NULL},
	{2, "name", F_STRING, false, NULL},
	{3, "attributes", F_MESSAGE, true, &key_value_m},
	{4, "droppedAttributesCount", F_UINT32, false, NULL},
};
static const message_desc event_m = {"Span.Event", FIELDS(event_f), false};

static const field_desc link_f[] = {
	{1, "traceId", F_HEX, false, NULL},
	{2, "spanId", F_HEX, false, NULL},
	{3, "traceState", F_STRING, false, NULL},
	{4, "attributes", F_MESSAGE, true, &key_value_m},
	{5, "droppedAttributesCount", F_UINT32, false, NULL},
	{6, "flags", F_FIXED32, false, NULL},
};
static const message_desc link_m = {"Span.Link", FIELDS(link_f), false};

static const field_desc span_f[] = {
	{1, "traceId", F_HEX, false, NULL},
	{2, "spanId", F_HEX, false, NULL},
	{3, "traceState", F_STRING, false, NULL},
	{4, "parentSpanId", F_HEX, false, NULL},
	{5, "name", F_STRING, false, NULL},
	{6, "kind", F_ENUM, false, NULL},
	{7, "startTimeUnixNano", F_FIXED64, false, NULL},
	{8, "endTimeUnixNano", F_FIXED64, false, NULL},
	{9, "attributes", F_MESSAGE, true, &key_value_m},
	{10, "droppedAttributesCount", F_UINT32, false, NULL},
	{11, "events", F_MESSAGE, true, &event_m},
	{12, "droppedEventsCount", F_UINT32, false, NULL},
	{13, "links", F_MESSAGE, true, &link_m},
	{14, "droppedLinksCount", F_UINT32, false, NULL},
	{15, "status", F_MESSAGE, false, &status_m},
	{16, "flags", F_FIXED32, false, NULL},
};
static const message_desc span_m = {"Span", FIELDS(span_f), false};

static const field_desc scope_spans_f[] = {
	{1, "scope", F_MESSAGE, false, &scope_m},
	{2, "spans", F_MESSAGE, true, &span_m},
	{3, "schemaUrl", F_STRING, false, NULL},
};
static const message_desc scope_spans_m = {"ScopeSpans", FIELDS(scope_spans_f), false};

static const field_desc resource_spans_f[] = {
	{1, "resource", F_MESSAGE, false, &resource_m},
	{2, "scopeSpans", F_MESSAGE, true, &scope_spans_m},
	{3, "schemaUrl", F_STRING, false, NULL},
};
static const message_desc resource_spans_m = {"ResourceSpans", FIELDS(resource_spans_f), false};

static const field_desc request_f[] = {
	{1, "resourceSpans", F_MESSAGE, true, &resource_spans_m},
};
static const message_desc request_m = {"ExportTraceServiceRequest", FIELDS(request_f), false};

/* ------------------------------------------------------------------------
 * The decoder's state and output
 * ------------------------------------------------------------------------ */
typedef struct range
{
	const uint8_t *p;
	size_t		n;
} range;

/* A message: the concatenation of its encodings (usually one). */
typedef struct view
{
	const range *parts;
	int			nparts;
} view;

typedef struct field
{
	uint32_t	number;
	int			wire;
	uint64_t	value;			/* varint, fixed64, fixed32 */
	range		bytes;			/* length-delimited */
} field;

typedef struct decoder
{
	char	   *out;
	size_t		len;
	size_t		cap;
	size_t		max;
	otlp_proto_result status;
	char	   *err;
	size_t		errlen;
	int			depth;
} decoder;

static bool fail(decoder *d, otlp_proto_result status, const char *fmt,...) __attribute__((format(printf, 3, 4)));

/* Records the first failure; always false. */
static bool
fail(decoder *d, otlp_proto_result status, const char *fmt,...)
{
	va_list		ap;

	if (d->status != OTLP_PROTO_OK)
		return false;
	d->status = status;
	if (d->err != NULL && d->errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(d->err, d->errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool
put(decoder *d, const char *s, size_t n)
{
	if (d->status != OTLP_PROTO_OK)
		return false;
	if (n > d->max - d->len)
		return fail(d, OTLP_PROTO_TOO_LARGE, "the request is too large as JSON (over %zu bytes)", d->max);
	if (!bounded_append(&d->out, &d->len, &d->cap, 1024, d->max, s, n))
		return fail(d, OTLP_PROTO_NO_MEMORY, "out of memory");
	return true;
}

static bool
puts_(decoder *d, const char *s)
{
	return put(d, s, strlen(s));
}

/* ------------------------------------------------------------------------
 * Wire format
 * ------------------------------------------------------------------------ */

/* A varint at *pos of p[0..n): at most 10 bytes, the tenth at most 1. */
static bool
read_varint(const uint8_t *p, size_t n, size_t *pos, uint64_t *v)
{
	uint64_t	r = 0;

	for (int i = 0; i < 10; i++)
	{
		uint8_t		b;

		if (*pos >= n)
			return false;
		b = p[(*pos)++];
		if (i == 9 && b > 1)
			return false;
		r |= (uint64_t) (b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0)
		{
			*v = r;
			return true;
		}
	}
	return false;
}

static uint64_t
little_endian(const uint8_t *p, int n)
{
	uint64_t	v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The next field of r from *pos: 1 read, 0 at the end, -1 malformed (d's error set). */
static int
next_field(decoder *d, const message_desc *m, range r, size_t *pos, field *f)
{
	uint64_t	tag;
	uint64_t	len;

	if (*pos >= r.n)
		return 0;
	if (!read_varint(r.p, r.n, pos, &tag))
		return fail(d, OTLP_PROTO_INVALID, "%s: a field tag is truncated or too long", m->name), -1;
	if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
		return fail(d, OTLP_PROTO_INVALID, "%s: field number %llu is out of range", m->name,
					(unsigned long long) (tag >> 3)), -1;
	f->number = (uint32_t) (tag >> 3);
	f->wire = (int) (tag & 7);
	switch (f->wire)
	{
		case WT_VARINT:
			if (!read_varint(r.p, r.n, pos, &f->value))
				return fail(d, OTLP_PROTO_INVALID, "%s: the varint of field %u is truncated or too long",
							m->name, f->number), -1;
			return 1;
		case WT_I64:
			if (r.n - *pos < 8)
				return fail(d, OTLP_PROTO_INVALID, "%s: the 64-bit value of field %u is truncated", m->name,
							f->number), -1;
			f->value = little_endian(r.p + *pos, 8);
			*pos += 8;
			return 1;
		case WT_I32:
			if (r.n - *pos < 4)
				return fail(d, OTLP_PROTO_INVALID, "%s: the 32-bit value of field %u is truncated", m->name,
							f->number), -1;
			f->value = little_endian(r.p + *pos, 4);
			*pos += 4;
			return 1;
		case WT_LEN:
			if (!read_varint(r.p, r.n, pos, &len))
				return fail(d, OTLP_PROTO_INVALID, "%s: the length of field %u is truncated or too long",
							m->name, f->number), -1;
			if (len > r.n - *pos)
				return fail(d, OTLP_PROTO_INVALID, "%s: field %u is longer than what is left of its message",
							m->name, f->number), -1;
			f->bytes.p = r.p + *pos;
			f->bytes.n = (size_t) len;
			*pos += (size_t) len;
			return 1;
		case WT_SGROUP:
		case WT_EGROUP:
			return fail(d, OTLP_PROTO_INVALID, "%s: field %u is a group (wire type %d), which is not supported",
						m->name, f->number, f->wire), -1;
		default:
			return fail(d, OTLP_PROTO_INVALID, "%s: field %u has the invalid wire type %d", m->name, f->number,
						f->wire), -1;
	}
}

/* Walks the fields of every part of a view in order. */
typedef struct walk
{
	const view *v;
	int			part;
	size_t		pos;
	long		ordinal;		/* of the field last read, from 0 */
} walk;

static void
walk_start(walk *w, const view *v)
{
	w->v = v;
	w->part = 0;
	w->pos = 0;
	w->ordinal = -1;
}

static int
walk_next(decoder *d, const message_desc *m, walk *w, field *f)
{
	while (w->part < w->v->nparts)
	{
		int			r = next_field(d, m, w->v->parts[w->part], &w->pos, f);

		if (r != 0)
		{
			w->ordinal++;
			return r;
		}
		w->part++;
		w->pos = 0;
	}
	return 0;
}

static int
wire_of(field_type t)
{
	switch (t)
	{
		case F_UINT32:
		case F_ENUM:
		case F_INT64:
		case F_BOOL:
			return WT_VARINT;
		case F_FIXED64:
		case F_DOUBLE:
			return WT_I64;
		case F_FIXED32:
			return WT_I32;
		default:
			return WT_LEN;
	}
}

static bool
check_wire(decoder *d, const message_desc *m, const field_desc *fd, const field *f)
{
	if (f->wire != wire_of(fd->type))
		return fail(d, OTLP_PROTO_INVALID, "%s.%s (field %u) has wire type %d, not %d", m->name, fd->json,
					fd->number, f->wire, wire_of(fd->type));
	return true;
}

/* ------------------------------------------------------------------------
 * JSON values
 * ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static int
utf8_sequence(const uint8_t *s, size_t n)
{
	uint8_t		c = s[0];
	int			len;
	uint32_t	cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t) len > n)
		return 0;
	for (int i = 1; i < len; i++)
	{
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		(cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A protobuf string as a JSON string: UTF-8 without NUL, escaped. */
static bool
put_string(decoder *d, const message_desc *m, const field_desc *fd, range r)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i = 0;
	size_t		run = 0;		/* start of the bytes copied as they are */

	if (!put(d, "\"", 1))
		return false;
	while (i < r.n)
	{
		uint8_t		c = r.p[i];
		char		esc[7];
		const char *e = NULL;

		if (c == 0)
			return fail(d, OTLP_PROTO_INVALID, "%s.%s holds a NUL character, which cannot be stored", m->name,
						fd->json);
		if (c >= 0x80)
		{
			int			len = utf8_sequence(r.p + i, r.n - i);

			if (len == 0)
				return fail(d, OTLP_PROTO_INVALID, "%s.%s is not valid UTF-8", m->name, fd->json);
			i += len;
			continue;
		}
		if (c == '"')
			e = "\\\"";
		else if (c == '\\')
			e = "\\\\";
		else if (c == '\n')
			e = "\\n";
		else if (c == '\r')
			e = "\\r";
		else if (c == '\t')
			e = "\\t";
		else if (c == '\b')
			e = "\\b";
		else if (c == '\f')
			e = "\\f";
		else if (c < 0x20)
		{
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			esc[6] = '\0';
			e = esc;
		}
		if (e != NULL)
		{
			if (!put(d, (const char *) r.p + run, i - run) || !puts_(d, e))
				return false;
			run = i + 1;
		}
		i++;
	}
	return put(d, (const char *) r.p + run, r.n - run) && put(d, "\"", 1);
}

static bool
put_hex(decoder *d, range r)
{
	static const char hex[] = "0123456789abcdef";
	char		buf[128];
	size_t		n = 0;

	if (!put(d, "\"", 1))
		return false;
	for (size_t i = 0; i < r.n; i++)
	{
		buf[n++] = hex[r.p[i] >> 4];
		buf[n++] = hex[r.p[i] & 15];
		if (n == sizeof(buf))
		{
			if (!put(d, buf, n))
				return false;
			n = 0;
		}
	}
	return put(d, buf, n) && put(d, "\"", 1);
}

static bool
put_base64(decoder *d, range r)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char		buf[128];
	size_t		n = 0;
	size_t		i = 0;

	if (!put(d, "\"", 1))
		return false;
	for (; i + 3 <= r.n; i += 3)
	{
		uint32_t	v = ((uint32_t) r.p[i] << 16) | ((uint32_t) r.p[i + 1] << 8) | r.p[i + 2];

		buf[n++] = b64[v >> 18];
		buf[n++] = b64[(v >> 12) & 63];
		buf[n++] = b64[(v >> 6) & 63];
		buf[n++] = b64[v & 63];
		if (n == sizeof(buf))
		{
			if (!put(d, buf, n))
				return false;
			n = 0;
		}
	}
	if (r.n - i == 1)
	{
		uint32_t	v = (uint32_t) r.p[i] << 16;

		buf[n++] = b64[v >> 18];
		buf[n++] = b64[(v >> 12) & 63];
		buf[n++] = '=';
		buf[n++] = '=';
	}
	else if (r.n - i == 2)
	{
		uint32_t	v = ((uint32_t) r.p[i] << 16) | ((uint32_t) r.p[i + 1] << 8);

		buf[n++] = b64[v >> 18];
		buf[n++] = b64[(v >> 12) & 63];
		buf[n++] = b64[(v >> 6) & 63];
		buf[n++] = '=';
	}
	return put(d, buf, n) && put(d, "\"", 1);
}

/* A double as the shortest text that reads back as the same double. */
static bool
put_double(decoder *d, uint64_t bits)
{
	double		v;
	char		buf[40];

	memcpy(&v, &bits, sizeof(v));
	if (isnan(v))
		return puts_(d, "\"NaN\"");
	if (isinf(v))
		return puts_(d, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
	for (int prec = 1; prec <= 17; prec++)
	{
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return puts_(d, buf);
}

static bool emit_message(decoder *d, const message_desc *m, const view *v);

/* One value of a field (its wire type checked). */
static bool
emit_value(decoder *d, const message_desc *m, const field_desc *fd, const field *f)
{
	char		buf[32];

	switch (fd->type)
	{
		case F_STRING:
			return put_string(d, m, fd, f->bytes);
		case F_HEX:
			return put_hex(d, f->bytes);
		case F_BASE64:
			return put_base64(d, f->bytes);
		case F_UINT32:
			snprintf(buf, sizeof(buf), "%u", (unsigned) (uint32_t) f->value);
			return puts_(d, buf);
		case F_ENUM:
			snprintf(buf, sizeof(buf), "%d", (int) (int32_t) (uint32_t) f->value);
			return puts_(d, buf);
		case F_INT64:
			snprintf(buf, sizeof(buf), "\"%lld\"", (long long) (int64_t) f->value);
			return puts_(d, buf);
		case F_BOOL:
			return puts_(d, f->value ? "true" : "false");
		case F_FIXED64:
			snprintf(buf, sizeof(buf), "\"%llu\"", (unsigned long long) f->value);
			return puts_(d, buf);
		case F_FIXED32:
			snprintf(buf, sizeof(buf), "%u", (unsigned) (uint32_t) f->value);
			return puts_(d, buf);
		case F_DOUBLE:
			return put_double(d, f->value);
		case F_MESSAGE:
			{
				view		one = {&f->bytes, 1};

				return emit_message(d, fd->message, &one);
			}
	}
	return fail(d, OTLP_PROTO_INVALID, "%s.%s: unknown field type", m->name, fd->json);
}

static bool
put_key(decoder *d, bool *first, const char *key)
{
	if (!*first && !put(d, ",", 1))
		return false;
	*first = false;
	return put(d, "\"", 1) && puts_(d, key) && put(d, "\":", 2);
}

/*
 * One field of a message: every occurrence (repeated), the merge of all
 * (singular message), or the last (scalar); only occurrences from the
 * ordinal since (a oneof's member since another was given). Nothing when
 * absent.
 */
static bool
emit_field(decoder *d, const message_desc *m, const field_desc *fd, const view *v, long since, bool *first)
{
	walk		w;
	field		f;
	field		last;
	int			r;
	long		count = 0;

	walk_start(&w, v);
	if (fd->repeated)
	{
		while ((r = walk_next(d, m, &w, &f)) > 0)
		{
			if (f.number != fd->number || w.ordinal < since)
				continue;
			if (!check_wire(d, m, fd, &f))
				return false;
			if (count++ == 0 ? !(put_key(d, first, fd->json) && put(d, "[", 1)) : !put(d, ",", 1))
				return false;
			if (!emit_value(d, m, fd, &f))
				return false;
		}
		return r == 0 && (count == 0 || put(d, "]", 1));
	}
	while ((r = walk_next(d, m, &w, &f)) > 0)
	{
		if (f.number != fd->number || w.ordinal < since)
			continue;
		if (!check_wire(d, m, fd, &f))
			return false;
		last = f;
		count++;
	}
	if (r < 0)
		return false;
	if (count == 0)
		return true;
	if (!put_key(d, first, fd->json))
		return false;
	if (fd->type == F_MESSAGE && count > 1)
	{
		/* a singular message given more than once: the merge of every one */
		range	   *parts = malloc(sizeof(range) * (size_t) count);
		view		merged = {parts, 0};
		bool		ok;

		if (parts == NULL)
			return fail(d, OTLP_PROTO_NO_MEMORY, "out of memory");
		walk_start(&w, v);
		while (walk_next(d, m, &w, &f) > 0)
			if (f.number == fd->number && w.ordinal >= since)
				parts[merged.nparts++] = f.bytes;
		ok = emit_message(d, fd->message, &merged);
		free(parts);
		return ok;
	}
	return emit_value(d, m, fd, &last);
}

static bool
emit_message(decoder *d, const message_desc *m, const view *v)
{
	bool		first = true;
	bool		ok = true;

	if (++d->depth > OTLP_PROTO_MAX_DEPTH)
		return fail(d, OTLP_PROTO_INVALID, "%s: messages are nested more than %d deep", m->name,
					OTLP_PROTO_MAX_DEPTH);
	if (!put(d, "{", 1))
		return false;
	if (m->oneof)
	{
		/* the member given last, from where it was last given after another */
		const field_desc *winner = NULL;
		long		since = 0;
		walk		w;
		field		f;
		int			r;

		walk_start(&w, v);
		while ((r = walk_next(d, m, &w, &f)) > 0)
			for (int i = 0; i < m->nfields; i++)
				if (m->fields[i].number == f.number)
				{
					if (!check_wire(d, m, &m->fields[i], &f))
						return false;
					if (winner != &m->fields[i])
						since = w.ordinal;
					winner = &m->fields[i];
				}
		ok = r == 0 && (winner == NULL || emit_field(d, m, winner, v, since, &first));
	}
	else
		for (int i = 0; ok && i < m->nfields; i++)
			ok = emit_field(d, m, &m->fields[i], v, 0, &first);
	d->depth--;
	return ok && put(d, "}", 1);
}

otlp_proto_result
otlp_proto_request_to_json(const uint8_t *buf, size_t len, size_t max_json, char **json, size_t *json_len,
						   char *err, size_t errlen)
{
	decoder		d = {0};
	range		all = {buf, len};
	view		v = {&all, 1};

	d.max = max_json;
	d.err = err;
	d.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	*json = NULL;
	*json_len = 0;
	if (buf == NULL)
		all.n = 0;
	if (!emit_message(&d, &request_m, &v) || d.status != OTLP_PROTO_OK)
	{
		free(d.out);
		return d.status != OTLP_PROTO_OK ? d.status : OTLP_PROTO_INVALID;
	}
	*json = d.out;
	*json_len = d.len;
	return OTLP_PROTO_OK;
}

/* ------------------------------------------------------------------------
 * Answers: the JSON of prefactor_otlp_export as protobuf
 * ------------------------------------------------------------------------ */

/* A small reader of the JSON answers (well-formed jsonb text, but read defensively). */
static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
json_hex4(const char *p, uint32_t *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++)
	{
		int			h = hex_digit(p[i]);

		if (h < 0)
			return false;
		*v = (*v << 4) | (uint32_t) h;
	}
	return true;
}

/*
 * The JSON string at p (at its opening quote), unescaped into out (a buffer
 * of at least the string's length + 1, or NULL to only skip it); the
 * position after its closing quote, or NULL.
 */
static const char *
json_string(const char *p, char *out, size_t *out_len)
{
	size_t		n = 0;

	if (*p++ != '"')
		return NULL;
	while (*p != '"')
	{
		if (*p == '\0')
			return NULL;
		if (*p != '\\')
		{
			if (out)
				out[n] = *p;
			n++;
			p++;
			continue;
		}
		p++;
		if (*p == 'u')
		{
			uint32_t	cp;
			uint32_t	lo;
			char		enc[4];
			int			len;

			if (!json_hex4(p + 1, &cp))
				return NULL;
			p += 5;
			if (cp >= 0xd800 && cp <= 0xdbff && p[0] == '\\' && p[1] == 'u' && json_hex4(p + 2, &lo) &&
				lo >= 0xdc00 && lo <= 0xdfff)
			{
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			if (cp < 0x80)
				enc[0] = (char) cp, len = 1;
			else if (cp < 0x800)
				enc[0] = (char) (0xc0 | (cp >> 6)), enc[1] = (char) (0x80 | (cp & 0x3f)), len = 2;
			else if (cp < 0x10000)
				enc[0] = (char) (0xe0 | (cp >> 12)), enc[1] = (char) (0x80 | ((cp >> 6) & 0x3f)),
					enc[2] = (char) (0x80 | (cp & 0x3f)), len = 3;
			else
				enc[0] = (char) (0xf0 | (cp >> 18)), enc[1] = (char) (0x80 | ((cp >> 12) & 0x3f)),
					enc[2] = (char) (0x80 | ((cp >> 6) & 0x3f)), enc[3] = (char) (0x80 | (cp & 0x3f)), len = 4;
			/* an escape is 6 or 12 characters, its UTF-8 at most 4: it fits */
			if (out)
				memcpy(out + n, enc, len);
			n += len;
			continue;
		}
		if (out)
		{
			switch (*p)
			{
				case 'n':
					out[n] = '\n';
					break;
				case 't':
					out[n] = '\t';
					break;
				case 'r':
					out[n] = '\r';
					break;
				case 'b':
					out[n] = '\b';
					break;
				case 'f':
					out[n] = '\f';
					break;
				case '"':
				case '\\':
				case '/':
					out[n] = *p;
					break;
				default:
					return NULL;
			}
		}
		else if (*p == '\0' || strchr("ntrbf\"\\/", *p) == NULL)
			return NULL;
		n++;
		p++;
	}
	if (out)
		out[n] = '\0';
	if (out_len)
		*out_len = n;
	return p + 1;
}

/* The position after the JSON value at p, or NULL. */
static const char *
json_skip(const char *p, int depth)
{
	p = json_ws(p);
	if (depth > 64)
		return NULL;
	if (*p == '"')
		return json_string(p, NULL, NULL);
	if (*p == '{' || *p == '[')
	{
		char		close = *p == '{' ? '}' : ']';
		bool		object = *p == '{';

		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;)
		{
			if (object)
			{
				p = json_string(json_ws(p), NULL, NULL);
				if (p == NULL || *(p = json_ws(p)) != ':')
					return NULL;
				p++;
			}
			p = json_skip(p, depth + 1);
			if (p == NULL)
				return NULL;
			p = json_ws(p);
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p++;
		}
	}
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	if (*p == '-' || (*p >= '0' && *p <= '9'))
	{
		p++;
		while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-')
			p++;
		return p;
	}
	return NULL;
}

/* The value of key in the JSON object at p, or NULL. */
static const char *
json_member(const char *p, const char *key)
{
	size_t		keylen = strlen(key);

	if (p == NULL)
		return NULL;
	p = json_ws(p);
	if (*p != '{')
		return NULL;
	p = json_ws(p + 1);
	if (*p == '}')
		return NULL;
	for (;;)
	{
		char		k[64];
		size_t		klen;
		const char *after;

		p = json_ws(p);
		if (*p != '"')
			return NULL;
		/* keys longer than ours are skipped without being copied */
		after = json_string(p, NULL, &klen);
		if (after == NULL)
			return NULL;
		if (klen == keylen && klen < sizeof(k))
		{
			json_string(p, k, &klen);
			after = json_ws(after);
			if (*after != ':')
				return NULL;
			if (strcmp(k, key) == 0)
				return json_ws(after + 1);
			p = after + 1;
		}
		else
		{
			after = json_ws(after);
			if (*after != ':')
				return NULL;
			p = after + 1;
		}
		p = json_skip(p, 1);
		if (p == NULL)
			return NULL;
		p = json_ws(p);
		if (*p != ',')
			return NULL;
		p++;
	}
}

/* An integer JSON number or digit string at p. */
static bool
json_int64(const char *p, int64_t *v)
{
	char	   *end;
	long long	x;
	bool		quoted = p != NULL && *p == '"';

	if (p == NULL)
		return false;
	if (quoted)
		p++;
	if (!(*p == '-' || (*p >= '0' && *p <= '9')))
		return false;
	x = strtoll(p, &end, 10);
	if (end == p || (quoted ? *end != '"' : (*end == '.' || *end == 'e' || *end == 'E')))
		return false;
	*v = x;
	return true;
}

/* A JSON string at p, malloc'd; NULL when p is not one (or no memory). */
static char *
json_string_dup(const char *p, size_t *len)
{
	char	   *s;

	if (p == NULL || *p != '"' || json_string(p, NULL, len) == NULL)
		return NULL;
	s = malloc(*len + 1);
	if (s != NULL)
		json_string(p, s, len);
	return s;
}

typedef struct writer
{
	uint8_t    *buf;
	size_t		len;
	size_t		cap;
	bool		failed;
} writer;

static void
w_bytes(writer *w, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (w->len + n > w->cap)
	{
		size_t		cap = w->cap ? w->cap : 64;
		uint8_t    *grown;

		while (cap < w->len + n)
			cap *= 2;
		grown = realloc(w->buf, cap);
		if (grown == NULL)
		{
			w->failed = true;
			return;
		}
		w->buf = grown;
		w->cap = cap;
	}
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
w_varint(writer *w, uint64_t v)
{
	uint8_t		b[10];
	int			n = 0;

	do
	{
		b[n] = v & 0x7f;
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	w_bytes(w, b, n);
}

static void
w_len_field(writer *w, uint32_t number, const void *p, size_t n)
{
	w_varint(w, ((uint64_t) number << 3) | WT_LEN);
	w_varint(w, n);
	w_bytes(w, p, n);
}

int
otlp_proto_rpc_code(int http_status)
{
	switch (http_status)
	{
		case 400:
		case 413:
		case 415:
			return 3;			/* INVALID_ARGUMENT */
		case 401:
			return 16;			/* UNAUTHENTICATED */
		case 403:
			return 7;			/* PERMISSION_DENIED */
		case 404:
			return 5;			/* NOT_FOUND */
		case 405:
		case 501:
			return 12;			/* UNIMPLEMENTED */
		case 408:
		case 504:
			return 4;			/* DEADLINE_EXCEEDED */
		case 409:
			return 10;			/* ABORTED */
		case 429:
			return 8;			/* RESOURCE_EXHAUSTED */
		case 500:
			return 13;			/* INTERNAL */
		case 503:
			return 14;			/* UNAVAILABLE */
		default:
			return http_status >= 200 && http_status < 300 ? 0 : 2;	/* OK, UNKNOWN */
	}
}

int
otlp_proto_answer(int http_status, const char *json, uint8_t **out, size_t *out_len)
{
	writer		w = {0};
	const char *v;
	char	   *message;
	size_t		mlen = 0;
	int64_t		n;

	if (json == NULL)
		json = "{}";
	if (http_status >= 200 && http_status < 300)
	{
		const char *partial = json_member(json, "partialSuccess");

		if (partial != NULL && *partial == '{')
		{
			writer		inner = {0};

			if (json_int64(json_member(partial, "rejectedSpans"), &n) && n != 0)
			{
				w_varint(&inner, (1 << 3) | WT_VARINT);
				w_varint(&inner, (uint64_t) n);
			}
			message = json_string_dup(json_member(partial, "errorMessage"), &mlen);
			if (message != NULL && mlen > 0)
				w_len_field(&inner, 2, message, mlen);
			free(message);
			w_len_field(&w, 1, inner.buf, inner.len);
			w.failed |= inner.failed;
			free(inner.buf);
		}
	}
	else
	{
		/* google.rpc.Status: code (the JSON's number, else the HTTP status's), message */
		int64_t		code;

		v = json_member(json, "code");
		if (!(v != NULL && *v != '"' && json_int64(v, &code) && code >= INT32_MIN && code <= INT32_MAX))
			code = otlp_proto_rpc_code(http_status);
		if (code != 0)
		{
			w_varint(&w, (1 << 3) | WT_VARINT);
			w_varint(&w, (uint64_t) code);	/* int32: negative ones sign-extended to 64 bits */
		}
		message = json_string_dup(json_member(json, "message"), &mlen);
		if (message != NULL && mlen > 0)
			w_len_field(&w, 2, message, mlen);
		free(message);
	}
	w_bytes(&w, "", 0);
	if (w.buf == NULL && !w.failed)
		w.buf = malloc(1);
	if (w.failed || w.buf == NULL)
	{
		free(w.buf);
		*out = NULL;
		*out_len = 0;
		return -1;
	}
	*out = w.buf;
	*out_len = w.len;
	return 0;
}
