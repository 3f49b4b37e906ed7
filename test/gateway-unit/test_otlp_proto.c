/*
 * Unit tests of prefactor-gateway's pure C parts: the OTLP protobuf decoder
 * and answer encoder (src/gateway/otlp_proto.c) and the gzip inflater
 * (src/gateway/gunzip.c). Messages are built here byte by byte with the
 * field numbers of opentelemetry-proto, independently of the decoder's
 * tables. Last line: "gateway-unit: N passed, N failed".
 */
#include "../../src/gateway/otlp_proto.h"
#include "../../src/gateway/gunzip.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int	passed;
static int	failed;

static void
check(bool ok, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (ok)
		passed++;
	else
		failed++;
}

/* ---- a protobuf writer for the tests ---- */
typedef struct pb
{
	uint8_t    *b;
	size_t		n;
	size_t		cap;
} pb;

static void
pb_raw(pb *p, const void *data, size_t n)
{
	if (p->n + n > p->cap)
	{
		p->cap = (p->n + n) * 2 + 16;
		p->b = realloc(p->b, p->cap);
		if (p->b == NULL)
			abort();
	}
	if (n)
		memcpy(p->b + p->n, data, n);
	p->n += n;
}

static void
pb_varint(pb *p, uint64_t v)
{
	uint8_t		c;

	do
	{
		c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		pb_raw(p, &c, 1);
	} while (v);
}

static void
pb_tag(pb *p, uint32_t num, int wire)
{
	pb_varint(p, ((uint64_t) num << 3) | (uint64_t) wire);
}

static void
pb_uint(pb *p, uint32_t num, uint64_t v)
{
	pb_tag(p, num, 0);
	pb_varint(p, v);
}

static void
pb_fixed64(pb *p, uint32_t num, uint64_t v)
{
	uint8_t		b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t) (v >> (8 * i));
	pb_tag(p, num, 1);
	pb_raw(p, b, 8);
}

static void
pb_fixed32(pb *p, uint32_t num, uint32_t v)
{
	uint8_t		b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t) (v >> (8 * i));
	pb_tag(p, num, 5);
	pb_raw(p, b, 4);
}

static void
pb_double(pb *p, uint32_t num, double d)
{
	uint64_t	v;

	memcpy(&v, &d, 8);
	pb_fixed64(p, num, v);
}

static void
pb_bytes(pb *p, uint32_t num, const void *data, size_t n)
{
	pb_tag(p, num, 2);
	pb_varint(p, n);
	pb_raw(p, data, n);
}

static void
pb_str(pb *p, uint32_t num, const char *s)
{
	pb_bytes(p, num, s, strlen(s));
}

/* appends sub as a message field, and frees it */
static void
pb_msg(pb *p, uint32_t num, pb *sub)
{
	pb_bytes(p, num, sub->b, sub->n);
	free(sub->b);
	memset(sub, 0, sizeof(*sub));
}

/* KeyValue {key, value: AnyValue (given as built)} */
static void
pb_kv(pb *p, uint32_t num, const char *key, pb *any)
{
	pb			kv = {0};

	pb_str(&kv, 1, key);
	pb_msg(&kv, 2, any);
	pb_msg(p, num, &kv);
}

static void
pb_kv_str(pb *p, uint32_t num, const char *key, const char *value)
{
	pb			any = {0};

	pb_str(&any, 1, value);
	pb_kv(p, num, key, &any);
}

/* ---- helpers ---- */
static char *
decode(const pb *p, otlp_proto_result *r, size_t max)
{
	char	   *json;
	size_t		len;
	char		err[256];

	*r = otlp_proto_request_to_json(p->b, p->n, max, &json, &len, err, sizeof(err));
	if (*r != OTLP_PROTO_OK && json != NULL)
		check(false, "a failed decode returns no JSON");
	if (*r == OTLP_PROTO_OK && strlen(json) != len)
		check(false, "the JSON's length is its length");
	return json;
}

static void
expect_json(const char *name, const pb *p, const char *expected)
{
	otlp_proto_result r;
	char	   *json = decode(p, &r, 1 << 20);

	check(r == OTLP_PROTO_OK && strcmp(json, expected) == 0, "%s", name);
	if (!(r == OTLP_PROTO_OK && strcmp(json, expected) == 0))
		printf("#   got:      %s (result %d)\n#   expected: %s\n", json ? json : "(none)", r, expected);
	free(json);
}

static void
expect_invalid(const char *name, const pb *p)
{
	otlp_proto_result r;
	char	   *json;
	size_t		len;
	char		err[256];

	r = otlp_proto_request_to_json(p->b, p->n, 1 << 20, &json, &len, err, sizeof(err));
	check(r == OTLP_PROTO_INVALID && json == NULL && err[0] != '\0' && strchr(err, '"') == NULL,
		  "%s: refused (%s)", name, err);
	free(json);
}

/* A request {resourceSpans: [{scopeSpans: [{spans: [span]}]}]} around a span (freed). */
static pb
request_of_span(pb *span)
{
	pb			ss = {0},
				rs = {0},
				req = {0};

	pb_msg(&ss, 2, span);
	pb_msg(&rs, 2, &ss);
	pb_msg(&req, 1, &rs);
	return req;
}

/* A request whose one span has one attribute "a" of the given AnyValue (freed). */
static pb
request_of_value(pb *any)
{
	pb			span = {0};

	pb_kv(&span, 9, "a", any);
	return request_of_span(&span);
}

static const char *
wrap_value(char *buf, size_t size, const char *value_json)
{
	snprintf(buf, size, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"a\",\"value\":%s}]}]}]}]}",
			 value_json);
	return buf;
}

static const uint8_t TRACE[16] = {0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c};
static const uint8_t SPAN[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74};
static const uint8_t PARENT[8] = {0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73};

/* The sample request: every field of every message, unknown fields optionally between. */
static pb
sample_request(bool unknown, bool top_unknown)
{
	pb			req = {0},
				rs = {0},
				res = {0},
				ss = {0},
				scope = {0},
				span = {0},
				ev = {0},
				link = {0},
				status = {0},
				any = {0},
				arr = {0},
				kvl = {0},
				inner = {0};

#define UNKNOWN(p) do { if (unknown) { pb_uint(p, 99, 123456789); pb_fixed64(p, 98, 7); pb_str(p, 97, "zz"); \
		pb_fixed32(p, 96, 5); pb_tag(p, 536870911, 0); pb_varint(p, 1); } } while (0)
	UNKNOWN(&res);
	pb_kv_str(&res, 1, "service.name", "support-bot");
	pb_uint(&res, 2, 3);
	UNKNOWN(&res);
	pb_msg(&rs, 1, &res);

	pb_str(&scope, 1, "prefactor-test");
	UNKNOWN(&scope);
	pb_str(&scope, 2, "1.0.0");
	pb_kv_str(&scope, 3, "s", "t");
	pb_uint(&scope, 4, 1);
	pb_msg(&ss, 1, &scope);

	pb_bytes(&span, 1, TRACE, 16);
	pb_bytes(&span, 2, SPAN, 8);
	pb_str(&span, 3, "k=v");
	UNKNOWN(&span);
	pb_bytes(&span, 4, PARENT, 8);
	pb_str(&span, 5, "chat gpt-4o");
	pb_uint(&span, 6, 3);
	pb_fixed64(&span, 7, 1700000000123456789ULL);
	pb_fixed64(&span, 8, 1700000000987654321ULL);
	/* attributes: every kind of AnyValue */
	pb_kv_str(&span, 9, "gen_ai.operation.name", "chat");
	pb_uint(&any, 2, 1);
	pb_kv(&span, 9, "b", &any);
	pb_uint(&any, 3, (uint64_t) -120);
	pb_kv(&span, 9, "i", &any);
	pb_double(&any, 4, 0.1);
	pb_kv(&span, 9, "d", &any);
	pb_str(&inner, 1, "x");
	pb_msg(&arr, 1, &inner);
	pb_uint(&inner, 3, 7);
	UNKNOWN(&inner);
	pb_msg(&arr, 1, &inner);
	UNKNOWN(&arr);
	pb_msg(&any, 5, &arr);
	pb_kv(&span, 9, "arr", &any);
	pb_uint(&inner, 2, 0);
	pb_kv(&kvl, 1, "k", &inner);
	pb_msg(&any, 6, &kvl);
	pb_kv(&span, 9, "kv", &any);
	pb_bytes(&any, 7, "\x00\xff\x10\x20", 4);
	pb_kv(&span, 9, "bytes", &any);
	pb_uint(&span, 10, 4);
	pb_fixed64(&ev, 1, 1700000000500000000ULL);
	pb_str(&ev, 2, "exception");
	pb_kv_str(&ev, 3, "exception.message", "rate limited");
	UNKNOWN(&ev);
	pb_uint(&ev, 4, 2);
	pb_msg(&span, 11, &ev);
	pb_uint(&span, 12, 5);
	pb_bytes(&link, 1, TRACE, 16);
	pb_bytes(&link, 2, PARENT, 8);
	pb_str(&link, 3, "a=b");
	pb_kv_str(&link, 4, "l", "m");
	pb_uint(&link, 5, 6);
	pb_fixed32(&link, 6, 0x301);
	pb_msg(&span, 13, &link);
	pb_uint(&span, 14, 7);
	pb_str(&status, 2, "rate limited");
	UNKNOWN(&status);
	pb_uint(&status, 3, 2);
	pb_msg(&span, 15, &status);
	pb_fixed32(&span, 16, 0x100);
	UNKNOWN(&span);
	pb_msg(&ss, 2, &span);
	pb_str(&ss, 3, "https://opentelemetry.io/schemas/1.30.0");
	pb_msg(&rs, 2, &ss);
	pb_str(&rs, 3, "https://example.com/r");
	UNKNOWN(&rs);
	pb_msg(&req, 1, &rs);
	if (top_unknown)
		UNKNOWN(&req);
	return req;
}

static const char SAMPLE_JSON[] =
	"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"support-bot\"}}],"
	"\"droppedAttributesCount\":3},"
	"\"scopeSpans\":[{\"scope\":{\"name\":\"prefactor-test\",\"version\":\"1.0.0\",\"attributes\":[{\"key\":\"s\",\"value\":{\"stringValue\":\"t\"}}],"
	"\"droppedAttributesCount\":1},"
	"\"spans\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"traceState\":\"k=v\","
	"\"parentSpanId\":\"eee19b7ec3c1b173\",\"name\":\"chat gpt-4o\",\"kind\":3,"
	"\"startTimeUnixNano\":\"1700000000123456789\",\"endTimeUnixNano\":\"1700000000987654321\","
	"\"attributes\":[{\"key\":\"gen_ai.operation.name\",\"value\":{\"stringValue\":\"chat\"}},"
	"{\"key\":\"b\",\"value\":{\"boolValue\":true}},{\"key\":\"i\",\"value\":{\"intValue\":\"-120\"}},"
	"{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
	"{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"x\"},{\"intValue\":\"7\"}]}}},"
	"{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":{\"boolValue\":false}}]}}},"
	"{\"key\":\"bytes\",\"value\":{\"bytesValue\":\"AP8QIA==\"}}],"
	"\"droppedAttributesCount\":4,"
	"\"events\":[{\"timeUnixNano\":\"1700000000500000000\",\"name\":\"exception\","
	"\"attributes\":[{\"key\":\"exception.message\",\"value\":{\"stringValue\":\"rate limited\"}}],\"droppedAttributesCount\":2}],"
	"\"droppedEventsCount\":5,"
	"\"links\":[{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b173\",\"traceState\":\"a=b\","
	"\"attributes\":[{\"key\":\"l\",\"value\":{\"stringValue\":\"m\"}}],\"droppedAttributesCount\":6,\"flags\":769}],"
	"\"droppedLinksCount\":7,\"status\":{\"message\":\"rate limited\",\"code\":2},\"flags\":256}],"
	"\"schemaUrl\":\"https://opentelemetry.io/schemas/1.30.0\"}],\"schemaUrl\":\"https://example.com/r\"}]}";

static void
test_sample(void)
{
	pb			req = sample_request(false, false);
	pb			with_unknown = sample_request(true, true);
	pb			one_field = sample_request(true, false);
	otlp_proto_result r;
	int			refused = 0;
	int			crashed_or_wrong = 0;
	char	   *json;

	expect_json("every field of every message mapped (the sample request)", &req, SAMPLE_JSON);
	expect_json("unknown fields of every wire type skipped at every level", &with_unknown, SAMPLE_JSON);

	/* every proper prefix of a request of one field (a ResourceSpans) is truncated inside it: refused */
	for (size_t cut = 1; cut < one_field.n; cut++)
	{
		pb			prefix = {one_field.b, cut, cut};

		json = decode(&prefix, &r, 1 << 20);
		if (r == OTLP_PROTO_INVALID)
			refused++;
		else
			crashed_or_wrong++;
		free(json);
	}
	check(refused == (int) one_field.n - 1 && crashed_or_wrong == 0,
		  "the sample truncated at every byte offset (%zu) is refused each time (%d refused)",
		  one_field.n - 1, refused);
	{
		pb			empty = {NULL, 0, 0};

		expect_json("an empty body is the empty request", &empty, "{}");
	}
	/* a JSON limit just under the sample's JSON: too large; at it: fine */
	json = decode(&req, &r, strlen(SAMPLE_JSON) - 1);
	check(r == OTLP_PROTO_TOO_LARGE && json == NULL, "JSON over max_json: too large");
	free(json);
	json = decode(&req, &r, strlen(SAMPLE_JSON));
	check(r == OTLP_PROTO_OK && json && strcmp(json, SAMPLE_JSON) == 0, "JSON of exactly max_json: decoded");
	free(json);
	free(req.b);
	free(with_unknown.b);
	free(one_field.b);
}

static void
test_values(void)
{
	char		buf[512];
	pb			any = {0},
				req;
	static const struct
	{
		double		v;
		const char *json;
	}			doubles[] = {
		{0.1, "0.1"}, {1.5, "1.5"}, {-2, "-2"}, {1e21, "1e+21"}, {0.30000000000000004, "0.30000000000000004"},
		{5e-324, "5e-324"}, {123456789.125, "123456789.125"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
	};

	for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++)
	{
		char		name[64];
		char		value[80];

		pb_double(&any, 4, doubles[i].v);
		req = request_of_value(&any);
		snprintf(value, sizeof(value), "{\"doubleValue\":%s}", doubles[i].json);
		snprintf(name, sizeof(name), "doubleValue %s (the shortest that reads back)", doubles[i].json);
		expect_json(name, &req, wrap_value(buf, sizeof(buf), value));
		free(req.b);
	}
	pb_double(&any, 4, NAN);
	req = request_of_value(&any);
	expect_json("doubleValue NaN as \"NaN\"", &req, wrap_value(buf, sizeof(buf), "{\"doubleValue\":\"NaN\"}"));
	free(req.b);
	pb_double(&any, 4, -INFINITY);
	req = request_of_value(&any);
	expect_json("doubleValue -Infinity", &req, wrap_value(buf, sizeof(buf), "{\"doubleValue\":\"-Infinity\"}"));
	free(req.b);
	pb_uint(&any, 3, UINT64_MAX);
	req = request_of_value(&any);
	expect_json("intValue -1 (ten-byte varint)", &req, wrap_value(buf, sizeof(buf), "{\"intValue\":\"-1\"}"));
	free(req.b);
	pb_uint(&any, 3, (uint64_t) INT64_MIN);
	req = request_of_value(&any);
	expect_json("intValue INT64_MIN", &req, wrap_value(buf, sizeof(buf), "{\"intValue\":\"-9223372036854775808\"}"));
	free(req.b);
	pb_uint(&any, 2, 300);
	req = request_of_value(&any);
	expect_json("boolValue from a non-zero varint", &req, wrap_value(buf, sizeof(buf), "{\"boolValue\":true}"));
	free(req.b);
	pb_bytes(&any, 7, "ab", 2);
	req = request_of_value(&any);
	expect_json("bytesValue base64 with one pad", &req, wrap_value(buf, sizeof(buf), "{\"bytesValue\":\"YWI=\"}"));
	free(req.b);
	pb_bytes(&any, 7, "", 0);
	req = request_of_value(&any);
	expect_json("bytesValue empty", &req, wrap_value(buf, sizeof(buf), "{\"bytesValue\":\"\"}"));
	free(req.b);
	req = request_of_value(&any);
	expect_json("an empty AnyValue", &req, wrap_value(buf, sizeof(buf), "{}"));
	free(req.b);
	/* oneof: the member given last wins */
	pb_str(&any, 1, "first");
	pb_uint(&any, 3, 5);
	req = request_of_value(&any);
	expect_json("AnyValue oneof: the member given last", &req, wrap_value(buf, sizeof(buf), "{\"intValue\":\"5\"}"));
	free(req.b);
	/* oneof of a message member given twice: merged; given before another member: dropped */
	{
		pb			arr = {0},
					inner = {0};

		pb_str(&inner, 1, "dropped");
		pb_msg(&arr, 1, &inner);
		pb_msg(&any, 5, &arr);
		pb_str(&any, 1, "between");
		pb_str(&inner, 1, "a");
		pb_msg(&arr, 1, &inner);
		pb_msg(&any, 5, &arr);
		pb_uint(&inner, 2, 1);
		pb_msg(&arr, 1, &inner);
		pb_msg(&any, 5, &arr);
		req = request_of_value(&any);
		expect_json("AnyValue arrayValue given twice after another member: the two merged", &req,
					wrap_value(buf, sizeof(buf), "{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{\"boolValue\":true}]}}"));
		free(req.b);
	}
	/* scalars: the last given; a singular message given twice: merged */
	{
		pb			span = {0},
					st = {0};

		pb_str(&span, 5, "first");
		pb_str(&span, 5, "second");
		pb_uint(&span, 6, 1);
		pb_str(&st, 2, "m");
		pb_msg(&span, 15, &st);
		pb_uint(&span, 6, 2);
		pb_uint(&st, 3, 2);
		pb_msg(&span, 15, &st);
		pb_uint(&span, 6, (uint64_t) -1);
		req = request_of_span(&span);
		expect_json("a scalar given twice: the last; a message given twice: merged; enum -1", &req,
					"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"second\",\"kind\":-1,"
					"\"status\":{\"message\":\"m\",\"code\":2}}]}]}]}");
		free(req.b);
	}
	{
		pb			span = {0};

		pb_fixed64(&span, 7, UINT64_MAX);
		pb_fixed32(&span, 16, UINT32_MAX);
		pb_uint(&span, 10, 0x1ffffffffULL);
		req = request_of_span(&span);
		expect_json("fixed64 max as a decimal string, fixed32 max, uint32 truncated", &req,
					"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":\"18446744073709551615\","
					"\"droppedAttributesCount\":4294967295,\"flags\":4294967295}]}]}]}");
		free(req.b);
	}
}

static void
test_strings(void)
{
	char		buf[512];
	pb			any = {0},
				req;
	static const struct
	{
		const char *bytes;
		const char *name;
	}			bad[] = {
		{"\xc0\x80", "overlong NUL"}, {"\xe0\x80\xaf", "overlong slash"}, {"\xed\xa0\x80", "a surrogate"},
		{"\xf4\x90\x80\x80", "beyond U+10FFFF"}, {"ab\xe2\x82", "a truncated sequence"},
		{"\x80", "a lone continuation byte"}, {"\xff", "byte FF"}, {"\xf8\x88\x80\x80\x80", "a five-byte form"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		char		name[80];

		pb_str(&any, 1, bad[i].bytes);
		req = request_of_value(&any);
		snprintf(name, sizeof(name), "bad UTF-8 in stringValue (%s)", bad[i].name);
		expect_invalid(name, &req);
		free(req.b);
	}
	{
		pb			span = {0};

		pb_bytes(&span, 5, "a\0b", 3);
		req = request_of_span(&span);
		expect_invalid("a NUL in a span name", &req);
		free(req.b);
		pb_str(&span, 5, "ok");
		pb_str(&span, 3, "\xc3");
		req = request_of_span(&span);
		expect_invalid("bad UTF-8 in traceState", &req);
		free(req.b);
	}
	pb_str(&any, 1, "q\"b\\s/n\nt\tr\rb\bf\fc\x01\x1f\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf");
	req = request_of_value(&any);
	expect_json("JSON escapes: quote, backslash, controls as \\n \\t \\r \\b \\f \\u0001 \\u001f; UTF-8 kept as is", &req,
				wrap_value(buf, sizeof(buf),
						   "{\"stringValue\":\"q\\\"b\\\\s/n\\nt\\tr\\rb\\bf\\fc\\u0001\\u001f\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\"}"));
	free(req.b);
	{
		pb			kv = {0},
					kvl = {0};

		pb_str(&any, 1, "v");
		pb_kv(&kvl, 1, "ke\"y\n", &any);
		pb_msg(&any, 6, &kvl);
		req = request_of_value(&any);
		expect_json("keys escaped too", &req,
					wrap_value(buf, sizeof(buf), "{\"kvlistValue\":{\"values\":[{\"key\":\"ke\\\"y\\n\",\"value\":{\"stringValue\":\"v\"}}]}}"));
		free(req.b);
		free(kv.b);
	}
}

/* An AnyValue nested depth arrays deep. */
static pb
nested_value(int depth)
{
	pb			any = {0};

	pb_str(&any, 1, "leaf");
	for (int i = 0; i < depth; i++)
	{
		pb			arr = {0};

		pb_msg(&arr, 1, &any);
		pb_msg(&any, 5, &arr);
	}
	return any;
}

static void
test_malformed(void)
{
	pb			req = {0},
				any;
	otlp_proto_result r;
	char	   *json;

	any = nested_value(20);
	req = request_of_value(&any);
	json = decode(&req, &r, 1 << 20);
	check(r == OTLP_PROTO_OK && json && strstr(json, "\"leaf\"") != NULL, "AnyValues nested 20 deep: decoded");
	free(json);
	free(req.b);
	any = nested_value(40);
	req = request_of_value(&any);
	expect_invalid("AnyValues nested 40 deep (messages over 64 deep)", &req);
	free(req.b);
	any = nested_value(1000);
	req = request_of_value(&any);
	expect_invalid("AnyValues nested 1000 deep", &req);
	free(req.b);

	memset(&req, 0, sizeof(req));
	pb_tag(&req, 1, 3);
	pb_tag(&req, 1, 4);
	expect_invalid("a group (wire types 3 and 4)", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_tag(&req, 5, 6);
	expect_invalid("wire type 6", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_tag(&req, 0, 0);
	pb_varint(&req, 1);
	expect_invalid("field number 0", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_raw(&req, "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
	expect_invalid("a varint of eleven bytes", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_raw(&req, "\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11);
	expect_invalid("a ten-byte varint over 64 bits", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_tag(&req, 1, 2);
	pb_varint(&req, UINT64_MAX);
	expect_invalid("a length of 2^64-1", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_tag(&req, 7, 2);
	pb_varint(&req, 0x7fffffff);
	pb_raw(&req, "abc", 3);
	expect_invalid("an unknown field longer than the body", &req);
	free(req.b);
	memset(&req, 0, sizeof(req));
	pb_uint(&req, 1, 5);
	expect_invalid("resourceSpans as a varint (wrong wire type)", &req);
	free(req.b);
	{
		pb			span = {0};

		pb_uint(&span, 7, 5);
		req = request_of_span(&span);
		expect_invalid("startTimeUnixNano as a varint, not fixed64", &req);
		free(req.b);
		pb_fixed32(&span, 5, 1);
		req = request_of_span(&span);
		expect_invalid("a span name as fixed32", &req);
		free(req.b);
		pb_str(&span, 6, "x");
		req = request_of_span(&span);
		expect_invalid("kind length-delimited", &req);
		free(req.b);
		/* a span whose attributes field holds bytes that are no message */
		pb_bytes(&span, 9, "\x0a\x05" "ab", 4);
		req = request_of_span(&span);
		expect_invalid("an attribute whose key runs past its KeyValue", &req);
		free(req.b);
	}
	{
		pb			any2 = {0};

		pb_fixed32(&any2, 3, 1);
		req = request_of_value(&any2);
		expect_invalid("AnyValue intValue as fixed32 (a oneof member of the wrong wire type)", &req);
		free(req.b);
	}
	/* random garbage never crashes; mostly refused */
	{
		uint32_t	seed = 12345;
		int			ok_count = 0;
		int			invalid = 0;
		uint8_t		junk[256];

		for (int t = 0; t < 2000; t++)
		{
			size_t		n = 1 + t % 255;
			pb			g;

			for (size_t i = 0; i < n; i++)
			{
				seed = seed * 1103515245u + 12345u;
				junk[i] = (uint8_t) (seed >> 16);
			}
			g.b = junk;
			g.n = n;
			json = decode(&g, &r, 1 << 16);
			if (r == OTLP_PROTO_OK)
				ok_count++;
			else if (r == OTLP_PROTO_INVALID)
				invalid++;
			free(json);
		}
		check(ok_count + invalid == 2000, "2000 random bodies: each decoded or refused (%d refused)", invalid);
	}
}

static void
expect_answer(const char *name, int status, const char *json, const uint8_t *expected, size_t n)
{
	uint8_t    *out;
	size_t		len;
	int			rc = otlp_proto_answer(status, json, &out, &len);

	check(rc == 0 && out != NULL && len == n && memcmp(out, expected, n) == 0, "%s", name);
	if (!(rc == 0 && len == n && memcmp(out, expected, n) == 0))
	{
		printf("#   got:     ");
		for (size_t i = 0; i < len; i++)
			printf(" %02x", out[i]);
		printf("\n#   expected:");
		for (size_t i = 0; i < n; i++)
			printf(" %02x", expected[i]);
		printf("\n");
	}
	free(out);
}

static void
test_answers(void)
{
	expect_answer("200 {}: the empty ExportTraceServiceResponse", 200, "{}", (const uint8_t *) "", 0);
	expect_answer("200 partialSuccess: field 1 {1: rejected_spans, 2: error_message}", 200,
				  "{\"partialSuccess\": {\"errorMessage\": \"2 span(s) rejected\", \"rejectedSpans\": 2}}",
				  (const uint8_t *) "\x0a\x16\x08\x02\x12\x12" "2 span(s) rejected", 24);
	expect_answer("200 partialSuccess of 300 spans: a two-byte varint", 200,
				  "{\"partialSuccess\": {\"rejectedSpans\": 300, \"errorMessage\": \"\"}}",
				  (const uint8_t *) "\x0a\x03\x08\xac\x02", 5);
	expect_answer("401 {code 16, message}: google.rpc.Status {1: code, 2: message}", 401,
				  "{\"code\": 16, \"message\": \"bad token\"}",
				  (const uint8_t *) "\x08\x10\x12\x09" "bad token", 13);
	expect_answer("400: message escapes decoded to UTF-8 (\\n, \\u00e9, a surrogate pair)", 400,
				  "{\"message\": \"a\\nb\\u00e9\\ud83d\\ude00\\\"\", \"code\": 3}",
				  (const uint8_t *) "\x08\x03\x12\x0a" "a\nb\xc3\xa9\xf0\x9f\x98\x80\"", 14);
	expect_answer("503 in the SDK envelope: code from the HTTP status (UNAVAILABLE)", 503,
				  "{\"status\": \"error\", \"code\": \"busy\", \"message\": \"no connection\"}",
				  (const uint8_t *) "\x08\x0e\x12\x0d" "no connection", 17);
	expect_answer("413 without a message", 413, "{}", (const uint8_t *) "\x08\x03", 2);
	expect_answer("a JSON answer that is not JSON: code only", 500, "{\"code\": ", (const uint8_t *) "\x08\x0d", 2);
	check(otlp_proto_rpc_code(401) == 16 && otlp_proto_rpc_code(403) == 7 && otlp_proto_rpc_code(504) == 4 &&
		  otlp_proto_rpc_code(418) == 2, "gRPC codes of HTTP statuses");
}

/* ---- gzip ---- */
static pb
gzip_of(const void *data, size_t n)
{
	pb			out = {0};
	z_stream	zs;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	out.cap = deflateBound(&zs, n);
	out.b = malloc(out.cap);
	zs.next_in = (Bytef *) data;
	zs.avail_in = n;
	zs.next_out = out.b;
	zs.avail_out = out.cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	out.n = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void
test_gzip(void)
{
	static const char text[] = "{\"resourceSpans\": []} and some more text, some more text, some more text";
	pb			z = gzip_of(text, strlen(text));
	char	   *out;
	size_t		len;
	gunzip_result r;
	int			refused = 0;

	r = gunzip((const char *) z.b, z.n, 1 << 20, &out, &len);
	check(r == GUNZIP_OK && len == strlen(text) && strcmp(out, text) == 0, "gzip: inflated as it was");
	free(out);
	r = gunzip((const char *) z.b, z.n, strlen(text), &out, &len);
	check(r == GUNZIP_OK && out && len == strlen(text), "gzip: exactly the limit inflated");
	free(out);
	r = gunzip((const char *) z.b, z.n, strlen(text) - 1, &out, &len);
	check(r == GUNZIP_TOO_LARGE && out == NULL, "gzip: one byte over the limit: too large");
	for (size_t cut = 1; cut < z.n; cut++)
	{
		r = gunzip((const char *) z.b, cut, 1 << 20, &out, &len);
		refused += r == GUNZIP_INVALID;
		free(out);
	}
	check(refused == (int) z.n - 1, "gzip truncated at every byte offset (%zu): refused each time", z.n - 1);
	{
		pb			two = {0};

		pb_raw(&two, z.b, z.n);
		pb_raw(&two, z.b, z.n);
		r = gunzip((const char *) two.b, two.n, 1 << 20, &out, &len);
		check(r == GUNZIP_OK && len == 2 * strlen(text) && strncmp(out + strlen(text), text, strlen(text)) == 0,
			  "gzip: two members, one after the other");
		free(out);
		pb_raw(&two, "x", 1);
		r = gunzip((const char *) two.b, two.n, 1 << 20, &out, &len);
		check(r == GUNZIP_INVALID, "gzip: a byte of garbage after it: refused");
		free(out);
		free(two.b);
	}
	r = gunzip(text, strlen(text), 1 << 20, &out, &len);
	check(r == GUNZIP_INVALID && out == NULL, "not gzip: refused");
	z.b[z.n - 5] ^= 1;			/* the CRC's last byte... the size */
	r = gunzip((const char *) z.b, z.n, 1 << 20, &out, &len);
	check(r == GUNZIP_INVALID, "gzip with a wrong size or CRC: refused");
	free(out);
	free(z.b);
	{
		/* a bomb: 16 MiB of zeros in some 16 KiB, under a 1 MiB limit */
		size_t		n = 16u << 20;
		char	   *zeros = calloc(1, n);
		pb			bomb = gzip_of(zeros, n);

		free(zeros);
		r = gunzip((const char *) bomb.b, bomb.n, 1 << 20, &out, &len);
		check(r == GUNZIP_TOO_LARGE && out == NULL, "a gzip bomb (%zu bytes to 16 MiB): too large at 1 MiB", bomb.n);
		free(bomb.b);
	}
}

int
main(void)
{
	test_sample();
	test_values();
	test_strings();
	test_malformed();
	test_answers();
	test_gzip();
	printf("gateway-unit: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
