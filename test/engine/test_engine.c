/*
 * test_engine.c - unit tests of the prefactor JSON Schema engine API.
 * Usage: test-engine [--quick]   (--quick shrinks the large-document test,
 * e.g. under valgrind).  Last line: "engine: N passed, N failed".
 */
#define _POSIX_C_SOURCE 200809L
#include "../../src/jsonschema/jsonschema.h"
#include "../../src/jsonschema/js_jsonc.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int n_pass,
			n_fail;
static int quick;

#define CHECK(cond, ...) do { \
	if (cond) n_pass++; \
	else { n_fail++; printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
		printf(__VA_ARGS__); printf("\n"); } } while (0)

/* parse JSON text with a deep tokenizer */
static struct json_object *
parse(const char *text)
{
	struct json_tokener *tok = json_tokener_new_ex(100000);
	struct json_object *o = json_tokener_parse_ex(tok, text, (int) strlen(text) + 1);

	if (json_tokener_get_error(tok) != json_tokener_success)
	{
		fprintf(stderr, "bad test JSON: %s\n", text);
		exit(2);
	}
	json_tokener_free(tok);
	return o;
}

/* compile schema text with options (NULL = defaults) */
static js_compiled *
compile(const char *schema, const js_options *opt)
{
	struct json_object *s = parse(schema);
	js_compiled *cs = NULL;
	js_problems *p = NULL;
	int			rc = js_compile(js_jsonc_accessor(), js_jsonc_node(s), opt, &cs, &p);

	if (rc != JS_OK)
	{
		printf("compile failed (%d) for %s\n", rc, schema);
		for (size_t i = 0; p && i < p->count; i++)
			printf("  %s: %s\n", p->items[i].keyword_location, p->items[i].message);
	}
	js_problems_free(p);
	json_object_put(s);
	return cs;
}

/* validate instance text in collect mode */
static js_result *
validate(js_compiled *cs, const char *inst)
{
	struct json_object *o = parse(inst);
	js_result  *r = NULL;

	if (js_validate(cs, js_jsonc_accessor(), js_jsonc_node(o), JS_MODE_COLLECT, &r) != JS_OK)
		r = NULL;
	json_object_put(o);
	return r;
}

/* does the result contain an error with these exact locations? */
static int
has_error(const js_result *r, const char *iloc, const char *kloc)
{
	for (size_t i = 0; r && i < r->error_count; i++)
		if (strcmp(r->errors[i].instance_location, iloc) == 0 &&
			strcmp(r->errors[i].keyword_location, kloc) == 0)
			return 1;
	return 0;
}

/* print errors (debug aid on failure) */
static void
dump(const js_result *r)
{
	for (size_t i = 0; r && i < r->error_count; i++)
		printf("    '%s' '%s' %s\n", r->errors[i].instance_location,
			   r->errors[i].keyword_location, r->errors[i].message);
}

/* seconds since an arbitrary point */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* error instance/keyword locations are exact JSON pointers */
static void
test_locations(void)
{
	js_compiled *cs = compile("{\"$defs\":{\"x\":{\"type\":\"integer\"}},"
							  "\"properties\":{\"a\":{\"type\":\"string\"},"
							  "\"b\":{\"items\":{\"minimum\":3}},"
							  "\"c\":{\"$ref\":\"#/$defs/x\"},"
							  "\"a/b~c\":{\"const\":1}},"
							  "\"required\":[\"zz\"]}", NULL);
	js_result  *r = validate(cs, "{\"a\":1,\"b\":[5,1],\"c\":1.5,\"a/b~c\":2}");

	CHECK(r && r->outcome == JS_INVALID, "expected invalid");
	CHECK(r && r->error_count == 5, "error count %zu", r ? r->error_count : 0);
	CHECK(has_error(r, "/a", "/properties/a/type"), "type error location");
	CHECK(has_error(r, "/b/1", "/properties/b/items/minimum"), "items/minimum location");
	CHECK(has_error(r, "/c", "/properties/c/$ref/type"), "$ref location");
	CHECK(has_error(r, "/a~1b~0c", "/properties/a~1b~0c/const"), "escaped location");
	CHECK(has_error(r, "", "/required"), "required location");
	if (n_fail)
		dump(r);
	js_result_free(r);

	r = validate(cs, "{\"a\":\"x\",\"b\":[3],\"c\":2,\"zz\":0}");
	CHECK(r && r->outcome == JS_VALID && r->error_count == 0, "expected valid");
	js_result_free(r);
	js_compiled_free(cs);
}

/* error cap and the fast valid-only mode */
static void
test_error_cap(void)
{
	js_options	opt;
	js_compiled *cs;
	js_result  *r;
	char		buf[4000];
	size_t		k = 0;
	struct json_object *o;

	js_options_init(&opt);
	opt.max_errors = 10;
	cs = compile("{\"items\":{\"type\":\"string\"}}", &opt);
	k += (size_t) sprintf(buf + k, "[");
	for (int i = 0; i < 500; i++)
		k += (size_t) sprintf(buf + k, "%s%d", i ? "," : "", i);
	sprintf(buf + k, "]");
	r = validate(cs, buf);
	CHECK(r && r->outcome == JS_INVALID && r->error_count == 10 && r->truncated,
		  "cap: count %zu truncated %d", r ? r->error_count : 0, r ? r->truncated : -1);
	CHECK(has_error(r, "/9", "/items/type"), "10th error location");
	js_result_free(r);

	o = parse(buf);
	CHECK(js_validate(cs, js_jsonc_accessor(), js_jsonc_node(o), JS_MODE_VALID_ONLY, &r) == JS_OK &&
		  r->outcome == JS_INVALID && r->error_count == 0, "valid-only collects nothing");
	js_result_free(r);
	CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(o)) == 0, "js_is_valid");
	json_object_put(o);
	js_compiled_free(cs);
}

/* nested arrays (obj = 0) or objects {"a": ...} (obj = 1), 'depth' levels */
static struct json_object *
nested(int depth, int obj)
{
	struct json_object *root = obj ? json_object_new_object() : json_object_new_array();
	struct json_object *cur = root;

	for (int i = 0; i < depth; i++)
	{
		struct json_object *n = obj ? json_object_new_object() : json_object_new_array();

		if (obj)
			json_object_object_add(cur, "a", n);
		else
			json_object_array_add(cur, n);
		cur = n;
	}
	return root;
}

/* validate a json-c node (not text) in collect mode */
static js_result *
validate_node(js_compiled *cs, struct json_object *o)
{
	js_result  *r = NULL;

	if (js_validate(cs, js_jsonc_accessor(), js_jsonc_node(o), JS_MODE_COLLECT, &r) != JS_OK)
		r = NULL;
	return r;
}

/*
 * Deep documents: 3,000 levels validate (a verdict either way); far deeper
 * ones stop at the stack budget with JS_LIMIT_REACHED, never a crash and
 * never "invalid".
 */
static void
test_depth(void)
{
	struct json_object *deep = nested(3000, 0);
	struct json_object *huge = nested(100000, 0);
	js_compiled *cs;
	js_result  *r = NULL;
	int			rc;

	cs = compile("{\"items\":{\"$ref\":\"#\"}}", NULL);
	CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(deep)) == JS_VALID, "3,000-deep arrays valid");
	r = validate_node(cs, deep);
	CHECK(r && r->outcome == JS_VALID && r->limit == JS_LIMIT_NONE, "3,000-deep arrays, collect mode");
	js_result_free(r);
	rc = js_validate(cs, js_jsonc_accessor(), js_jsonc_node(huge), JS_MODE_COLLECT, &r);
	CHECK(rc == JS_OK && r && r->outcome == JS_LIMIT_REACHED && r->limit == JS_LIMIT_DEPTH,
		  "100,000-deep arrays reach the limit");
	CHECK(r && r->error_count == 1 && strstr(r->errors[0].message, "stack"),
		  "depth message: %s", r && r->error_count ? r->errors[0].message : "(none)");
	js_result_free(r);
	CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(huge)) == JS_LIMIT_REACHED,
		  "100,000 deep, fast mode: limit, not invalid");
	js_compiled_free(cs);

	/* a verdict at the bottom of 3,000 levels */
	cs = compile("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}", NULL);
	{
		struct json_object *cur = deep;

		while (json_object_array_length(cur) > 0)
			cur = json_object_array_get_idx(cur, 0);
		json_object_array_add(cur, json_object_new_int(1));
	}
	r = validate_node(cs, deep);
	CHECK(r && r->outcome == JS_INVALID && r->error_count == 1 &&
		  strlen(r->errors[0].instance_location) == 6002, "invalid at depth 3,001");
	js_result_free(r);
	js_compiled_free(cs);

	/* a smaller stack budget is honoured */
	{
		js_options	opt;

		js_options_init(&opt);
		opt.max_stack_bytes = 64 * 1024;
		cs = compile("{\"items\":{\"$ref\":\"#\"}}", &opt);
		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(deep)) == JS_LIMIT_REACHED,
			  "64 KB of stack is not enough for 3,000 levels");
		js_compiled_free(cs);
	}

	/* objects nest too */
	{
		struct json_object *o = nested(2000, 1);
		struct json_object *ho = nested(100000, 1);

		cs = compile("{\"additionalProperties\":{\"$ref\":\"#\"}}", NULL);
		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(o)) == JS_VALID, "2,000-deep objects valid");
		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(ho)) == JS_LIMIT_REACHED,
			  "100,000-deep objects reach the limit");
		js_compiled_free(cs);
		cs = compile("{\"properties\":{\"a\":{\"$ref\":\"#\"}},\"unevaluatedProperties\":false}", NULL);
		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(o)) == JS_VALID,
			  "2,000-deep objects with unevaluatedProperties");
		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(ho)) == JS_LIMIT_REACHED,
			  "100,000 deep with unevaluatedProperties: limit");
		js_compiled_free(cs);
		json_object_put(o);
		json_object_put(ho);
	}

	/* deep equality (const, uniqueItems) is bounded by the stack too */
	cs = compile("{\"const\":[[1]]}", NULL);
	CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(huge)) == JS_INVALID, "deep const differs early");
	js_compiled_free(cs);
	cs = compile("{\"uniqueItems\":true}", NULL);
	{
		struct json_object *pair = json_object_new_array();

		json_object_array_add(pair, nested(100000, 0));
		json_object_array_add(pair, nested(100000, 0));
		r = validate_node(cs, pair);
		CHECK(r && r->outcome == JS_LIMIT_REACHED && r->limit == JS_LIMIT_DEPTH,
			  "uniqueItems of two 100,000-deep arrays: limit");
		js_result_free(r);
		json_object_put(pair);
	}
	js_compiled_free(cs);

	/* a 10,000-deep "not" chain as schema */
	{
		struct json_object *s = json_object_new_object();
		struct json_object *c = s;
		js_problems *p = NULL;

		for (int i = 0; i < 10000; i++)
		{
			struct json_object *n = json_object_new_object();

			json_object_object_add(c, "not", n);
			c = n;
		}
		cs = NULL;
		rc = js_compile(js_jsonc_accessor(), js_jsonc_node(s), NULL, &cs, &p);
		CHECK(rc == JS_EPROBLEMS && cs == NULL && p && p->count >= 1 &&
			  strstr(p->items[0].message, "depth"), "deep schema rc=%d", rc);
		js_problems_free(p);
		json_object_put(s);
	}
	json_object_put(deep);
	json_object_put(huge);
}

/* outcome of instance text against schema text (JS_VALID/JS_INVALID/...) */
static int
outcome(const char *schema, const char *inst)
{
	js_compiled *cs = compile(schema, NULL);
	js_result  *r;
	int			o;
	struct json_object *io;
	int			fast;

	if (!cs)
		return -100;
	r = validate(cs, inst);
	o = r ? (int) r->outcome : -99;
	io = parse(inst);
	fast = js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(io));
	json_object_put(io);
	if (fast != o)
		o = -98;				/* the two modes must agree */
	js_result_free(r);
	js_compiled_free(cs);
	return o;
}

#define VALID(schema, inst) CHECK(outcome(schema, inst) == JS_VALID, "%s should accept %s", schema, inst)
#define INVALID(schema, inst) CHECK(outcome(schema, inst) == JS_INVALID, "%s should reject %s", schema, inst)

/*
 * the validator's shortcuts: members merged with the sorted property names
 * (json-c gives keys in document order, so out-of-order keys take the
 * fallback), leaf and annotation-only subschemas, anyOf/oneOf branches
 * skipped by type, scalar const/enum and string lengths counted only when
 * the byte length does not decide
 */
static void
test_fast_paths(void)
{
	const char *props = "{\"properties\": {\"a\": {\"type\": \"string\"}, \"bb\": {\"type\": \"integer\"},"
		" \"c\": {\"enum\": [1, \"x\", true, null]}}, \"additionalProperties\": false}";

	VALID(props, "{\"c\": \"x\", \"bb\": 2, \"a\": \"s\"}");
	VALID(props, "{\"a\": \"s\", \"c\": true}");
	VALID(props, "{\"c\": null, \"a\": \"s\"}");
	VALID(props, "{\"c\": 1.0}");
	INVALID(props, "{\"c\": \"y\", \"bb\": 2, \"a\": \"s\"}");
	INVALID(props, "{\"c\": false}");
	INVALID(props, "{\"zz\": 1, \"a\": \"s\"}");
	INVALID(props, "{\"bb\": 2.5, \"a\": \"s\"}");
	INVALID(props, "{\"bb\": 2, \"a\": 1}");

	VALID("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\", \"maximum\": 1}]}", "5");
	VALID("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\", \"maximum\": 1}]}", "0.5");
	INVALID("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\", \"maximum\": 1}]}", "1");
	INVALID("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\", \"maximum\": 1}]}", "2.5");
	INVALID("{\"oneOf\": [{\"type\": \"integer\"}, {\"type\": \"number\", \"maximum\": 1}]}", "\"x\"");
	VALID("{\"anyOf\": [{\"type\": \"string\", \"minLength\": 3}, {\"type\": \"array\"}]}", "\"abc\"");
	VALID("{\"anyOf\": [{\"type\": \"string\", \"minLength\": 3}, {\"type\": \"array\"}]}", "[]");
	INVALID("{\"anyOf\": [{\"type\": \"string\", \"minLength\": 3}, {\"type\": \"array\"}]}", "\"ab\"");
	INVALID("{\"anyOf\": [{\"type\": \"string\", \"minLength\": 3}, {\"type\": \"array\"}]}", "1");

	INVALID("{\"maxLength\": 2}", "\"\u00e9\u00e9\u00e9\"");
	VALID("{\"maxLength\": 2}", "\"\u00e9\u00e9\"");
	INVALID("{\"minLength\": 2}", "\"\u00e9\"");
	VALID("{\"minLength\": 1}", "\"abcd\"");
	VALID("{\"items\": {\"const\": \"\u00e9\"}}", "[\"\u00e9\"]");
	INVALID("{\"items\": {\"const\": \"\u00e9\"}}", "[\"e\"]");

	VALID("{\"required\": [\"b\", \"a\", \"cc\"]}", "{\"cc\": 1, \"a\": 1, \"b\": 1}");
	VALID("{\"required\": [\"b\", \"a\", \"cc\"]}", "{\"a\": 1, \"zz\": 1, \"b\": 1, \"cc\": 1}");
	INVALID("{\"required\": [\"b\", \"a\", \"cc\"]}", "{\"a\": 1, \"cc\": 1}");
	INVALID("{\"required\": [\"b\", \"a\", \"cc\"]}", "{\"b\": 1, \"a\": 1, \"c\": 1}");
	INVALID("{\"required\": [\"b\", \"a\", \"cc\"]}", "{}");
	VALID("{\"properties\": {\"a\": {\"description\": \"x\", \"default\": 1}}}", "{\"a\": [1]}");
	VALID("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
		  " \"properties\": {\"a\": {\"type\": \"string\"}}, \"unevaluatedProperties\": false}", "{\"a\": \"x\"}");
	INVALID("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\","
			" \"properties\": {\"a\": {\"type\": \"string\"}}, \"unevaluatedProperties\": false}",
			"{\"a\": \"x\", \"b\": 1}");
}

/* numbers are judged on their exact decimal value */
static void
test_numbers(void)
{
	const char *d7 = "\"$schema\":\"http://json-schema.org/draft-07/schema#\"";
	char		sch[256];

	/* integers of any size; integer-valued decimals */
	VALID("{\"type\":\"integer\"}", "1e400");
	VALID("{\"type\":\"integer\"}", "-1e400");
	VALID("{\"type\":\"integer\"}", "1.0");
	VALID("{\"type\":\"integer\"}", "12.5e1");
	INVALID("{\"type\":\"integer\"}", "1e-400");
	INVALID("{\"type\":\"integer\"}", "1.5");
	VALID("{\"type\":\"number\"}", "1e-400");
	VALID("{\"type\":\"integer\"}", "-0.0");

	/* inclusive bounds at the edge, and just past it beyond a double's precision */
	VALID("{\"minimum\":0.1}", "0.1");
	INVALID("{\"minimum\":0.1}", "0.09999999999999999999");
	VALID("{\"maximum\":1e400}", "1e400");
	VALID("{\"maximum\":1e400}", "10e399");
	INVALID("{\"maximum\":1e400}", "1.0000000000000000000001e400");
	INVALID("{\"minimum\":-1e400}", "-1.0000000000000000000001e400");
	VALID("{\"minimum\":-1e400}", "-1e400");
	INVALID("{\"maximum\":-1e400}", "1e-400");
	VALID("{\"minimum\":0}", "1e-400");
	INVALID("{\"maximum\":0}", "1e-400");
	VALID("{\"maximum\":0}", "-1e-400");

	/* exclusive bounds at the edge: 2020-12 and draft-07 (numbers) */
	INVALID("{\"exclusiveMaximum\":2}", "2");
	INVALID("{\"exclusiveMaximum\":2}", "2.0");
	VALID("{\"exclusiveMaximum\":2}", "1.9999999999999999999");
	INVALID("{\"exclusiveMinimum\":0.1}", "0.1");
	VALID("{\"exclusiveMinimum\":0.1}", "0.10000000000000000001");
	VALID("{\"exclusiveMinimum\":0}", "1e-400");
	INVALID("{\"exclusiveMinimum\":0}", "-0");
	snprintf(sch, sizeof sch, "{%s,\"exclusiveMaximum\":2}", d7);
	INVALID(sch, "2");
	VALID(sch, "1.9999999999999999999");
	snprintf(sch, sizeof sch, "{%s,\"exclusiveMinimum\":-1e400}", d7);
	INVALID(sch, "-1e400");
	VALID(sch, "-9.999999999999999999e399");
	/* draft-4 boolean exclusiveMinimum is not supported (drafts 7 and 2020-12 only) */
	{
		struct json_object *s = parse("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
									  "\"minimum\":1,\"exclusiveMinimum\":true}");
		js_problems *p = NULL;

		CHECK(js_check(js_jsonc_accessor(), js_jsonc_node(s), NULL, &p) == JS_OK && p &&
			  p->count == 1 && strcmp(p->items[0].keyword_location, "/exclusiveMinimum") == 0,
			  "boolean exclusiveMinimum is a schema problem");
		js_problems_free(p);
		json_object_put(s);
	}

	/* multipleOf with decimals, exactly */
	VALID("{\"multipleOf\":0.1}", "0.3");
	VALID("{\"multipleOf\":0.0001}", "0.0075");
	INVALID("{\"multipleOf\":0.0001}", "0.00751");
	VALID("{\"multipleOf\":0.00001}", "1e-5");
	VALID("{\"multipleOf\":1e-5}", "0.00007");
	INVALID("{\"multipleOf\":1e-5}", "1e-6");
	VALID("{\"multipleOf\":0.01}", "19.99");
	VALID("{\"multipleOf\":1.5}", "4.5");
	INVALID("{\"multipleOf\":1.5}", "5");
	INVALID("{\"multipleOf\":3}", "1e400");
	VALID("{\"multipleOf\":3}", "3e400");
	VALID("{\"multipleOf\":7}", "7e400");
	INVALID("{\"multipleOf\":7}", "1e400");
	VALID("{\"multipleOf\":2}", "1e400");
	VALID("{\"multipleOf\":1e300}", "1e400");
	INVALID("{\"multipleOf\":1e400}", "1e300");
	VALID("{\"type\":\"integer\",\"multipleOf\":0.5}", "1e308");
	/* a divisor longer than 18 digits takes the long-division path */
	VALID("{\"multipleOf\":0.1234567890123456789012}", "2.469135780246913578024");
	INVALID("{\"multipleOf\":0.1234567890123456789012}", "2.469135780246913578025");
	/* (json-c clamps integer literals beyond 64 bits: write them as decimals) */
	VALID("{\"multipleOf\":1234567890123456789012.0}", "1234567890123456789012e50");
	INVALID("{\"multipleOf\":1234567890123456789013.0}", "1e60");

	/* const / enum / uniqueItems compare exact values */
	VALID("{\"const\":1}", "1.0");
	VALID("{\"const\":1e400}", "10e399");
	INVALID("{\"const\":1e400}", "1e401");
	INVALID("{\"const\":0.1}", "0.10000000000000001");
	VALID("{\"enum\":[0.5,1e-400]}", "1E-400");
	INVALID("{\"uniqueItems\":true}", "[1, 1.0, 2]");
	VALID("{\"uniqueItems\":true}", "[0.1, 0.10000000000000001]");
	INVALID("{\"uniqueItems\":true}", "[[1e400], [10e399]]");

	/* huge numbers are shown short in messages */
	{
		js_compiled *cs = compile("{\"maximum\":2}", NULL);
		js_result  *r = validate(cs, "1e400");

		CHECK(r && r->error_count == 1 &&
			  strcmp(r->errors[0].message, "value 1e+400 is greater than maximum 2") == 0,
			  "message: %s", r && r->error_count ? r->errors[0].message : "(none)");
		js_result_free(r);
		js_compiled_free(cs);
	}

	/* doubles built in code (no source text) are read by their shortest form */
	{
		js_compiled *cs = compile("{\"multipleOf\":0.1,\"maximum\":0.3}", NULL);
		struct json_object *x = json_object_new_double(0.3);

		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(x)) == JS_VALID, "text-less 0.3");
		json_object_put(x);
		x = json_object_new_int64(INT64_C(9007199254740993));
		js_compiled_free(cs);
		cs = compile("{\"maximum\":9007199254740992}", NULL);
		CHECK(js_is_valid(cs, js_jsonc_accessor(), js_jsonc_node(x)) == JS_INVALID,
			  "int64 beyond 2^53 compared exactly");
		json_object_put(x);
		js_compiled_free(cs);
	}

	/* exact arithmetic has a work limit: a verdict is never guessed */
	{
		size_t		nx = 200000,
					nm = 1000;
		char	   *x = malloc(nx + 3),
				   *sch2 = malloc(nm + 32);
		js_compiled *cs;
		js_result  *r;

		memset(x, '7', nx);
		strcpy(x + nx, ".0");	/* a decimal, so json-c keeps the text */
		strcpy(sch2, "{\"multipleOf\":");
		memset(sch2 + 14, '3', nm);
		strcpy(sch2 + 14 + nm, ".0}");
		cs = compile(sch2, NULL);
		r = validate(cs, x);
		CHECK(r && r->outcome == JS_LIMIT_REACHED && r->limit == JS_LIMIT_NUMBER,
			  "multipleOf work limit");
		js_result_free(r);
		js_compiled_free(cs);
		free(x);
		free(sch2);
	}
}

/* string lengths count code points, not bytes */
static void
test_strings(void)
{
	VALID("{\"maxLength\":1}", "\"\xF0\x9F\x98\x80\"");		/* U+1F600, 4 bytes */
	INVALID("{\"minLength\":2}", "\"\xF0\x9F\x98\x80\"");
	VALID("{\"minLength\":2,\"maxLength\":2}", "\"\xF0\x9D\x84\x9E\xF0\x9D\x84\x9E\"");	/* two U+1D11E */
	INVALID("{\"maxLength\":1}", "\"e\xCC\x81\"");		/* e + combining acute: 2 */
	VALID("{\"minLength\":2}", "\"e\xCC\x81\"");
	VALID("{\"maxLength\":3}", "\"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\"");	/* 3 CJK, 9 bytes */
	INVALID("{\"maxLength\":2}", "\"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\"");
	VALID("{\"maxLength\":1}", "\"\\ud83d\\ude00\"");	/* escaped surrogate pair */
	VALID("{\"minLength\":0,\"maxLength\":0}", "\"\"");
	INVALID("{\"minLength\":1}", "\"\"");
}

/* $ref loops are reported, not stack overflows */
static void
test_ref_loop(void)
{
	js_compiled *cs = compile("{\"$ref\":\"#\"}", NULL);
	js_result  *r = validate(cs, "1");

	CHECK(r && r->outcome == JS_LIMIT_REACHED && r->error_count == 1 &&
		  strstr(r->errors[0].message, "loop"), "self loop");
	js_result_free(r);
	js_compiled_free(cs);

	cs = compile("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
				 "\"properties\":{\"x\":{\"$ref\":\"#/$defs/a\"}}}", NULL);
	r = validate(cs, "{\"x\":{\"y\":1}}");
	CHECK(r && r->outcome == JS_LIMIT_REACHED, "a->b->a loop");
	CHECK(r && r->error_count == 1 && strcmp(r->errors[0].instance_location, "/x") == 0,
		  "loop location");
	js_result_free(r);
	r = validate(cs, "{\"z\":1}");
	CHECK(r && r->outcome == JS_VALID, "loop not reached is fine");
	js_result_free(r);
	js_compiled_free(cs);

	/* recursion that consumes the instance is not a loop */
	cs = compile("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}", NULL);
	r = validate(cs, "[[[],[]],[[[]]]]");
	CHECK(r && r->outcome == JS_VALID, "legit recursion");
	js_result_free(r);
	js_compiled_free(cs);
}

/* catastrophic backtracking is cut off by the match limit */
static void
test_regex_limit(void)
{
	js_compiled *cs = compile("{\"pattern\":\"^(a+)+$\"}", NULL);
	double		t0 = now(),
				dt;
	js_result  *r = validate(cs, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"");

	dt = now() - t0;
	CHECK(r && r->outcome == JS_LIMIT_REACHED, "regex limit must produce an error");
	CHECK(r && r->error_count == 1 && strstr(r->errors[0].message, "limit") &&
		  strcmp(r->errors[0].keyword_location, "/pattern") == 0, "regex limit message");
	CHECK(dt < 5.0, "regex took %.2fs", dt);
	js_result_free(r);
	r = validate(cs, "\"aaaa\"");
	CHECK(r && r->outcome == JS_VALID, "regex still matches normal input");
	js_result_free(r);
	js_compiled_free(cs);

	/* ECMA-262 flavour: \\s covers Unicode spaces, \\d is ASCII only */
	cs = compile("{\"pattern\":\"^a\\\\sb\\\\d$\"}", NULL);
	r = validate(cs, "\"a\\u00a0b1\"");
	CHECK(r && r->outcome == JS_VALID, "\\s matches NBSP");
	js_result_free(r);
	r = validate(cs, "\"a b\\u0661\"");
	CHECK(r && r->outcome == JS_INVALID, "\\d does not match Arabic-Indic digit");
	js_result_free(r);
	js_compiled_free(cs);
}

/* format is an annotation unless assertion is enabled */
static void
test_format(void)
{
	js_options	opt;
	js_compiled *cs;
	js_result  *r;
	const char *schema = "{\"properties\":{\"e\":{\"format\":\"email\"},"
		"\"d\":{\"format\":\"date-time\"},\"i\":{\"format\":\"ipv4\"}}}";
	const char *bad = "{\"e\":\"nope\",\"d\":\"2020-13-01T00:00:00Z\",\"i\":\"1.2.3\"}";

	cs = compile(schema, NULL);
	r = validate(cs, bad);
	CHECK(r && r->outcome == JS_VALID, "format off: annotation only");
	js_result_free(r);
	js_compiled_free(cs);

	js_options_init(&opt);
	opt.format_assertion = 1;
	cs = compile(schema, &opt);
	r = validate(cs, bad);
	CHECK(r && r->outcome == JS_INVALID && r->error_count == 3, "format on: 3 errors");
	CHECK(has_error(r, "/e", "/properties/e/format"), "format error location");
	js_result_free(r);
	r = validate(cs, "{\"e\":\"a@b.org\",\"d\":\"2020-12-01T10:00:00+01:00\",\"i\":\"10.0.0.1\"}");
	CHECK(r && r->outcome == JS_VALID, "format on: good values");
	js_result_free(r);
	js_compiled_free(cs);
	CHECK(js_format_check("uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", 36) == 1, "uuid ok");
	CHECK(js_format_check("no-such-format", "x", 1) == -1, "unknown format");
}

/* find a problem at keyword location loc */
static int
has_problem(const js_problems *p, const char *loc)
{
	for (size_t i = 0; p && i < p->count; i++)
		if (strcmp(p->items[i].keyword_location, loc) == 0)
			return 1;
	return 0;
}

/* js_check reports schema problems with keyword locations */
static void
test_check(void)
{
	struct json_object *s = parse("{\"type\":5,\"properties\":{\"a\":{\"pattern\":\"(\"},"
								  "\"b\":{\"minLength\":-1},\"c\":{\"$ref\":\"#/$defs/missing\"}}}");
	js_problems *p = NULL;
	js_compiled *cs = NULL;
	int			rc = js_check(js_jsonc_accessor(), js_jsonc_node(s), NULL, &p);

	CHECK(rc == JS_OK && p && p->count == 4, "check count %zu", p ? p->count : 0);
	CHECK(has_problem(p, "/type"), "type problem");
	CHECK(has_problem(p, "/properties/a/pattern"), "regex problem");
	CHECK(has_problem(p, "/properties/b/minLength"), "minLength problem");
	CHECK(has_problem(p, "/properties/c/$ref"), "unresolvable $ref problem");
	for (size_t i = 0; n_fail && p && i < p->count; i++)
		printf("    %s: %s\n", p->items[i].keyword_location, p->items[i].message);
	js_problems_free(p);
	p = NULL;
	rc = js_compile(js_jsonc_accessor(), js_jsonc_node(s), NULL, &cs, &p);
	CHECK(rc == JS_EPROBLEMS && cs == NULL && p && p->count == 4, "compile fails cleanly");
	js_problems_free(p);
	json_object_put(s);

	s = parse("{\"type\":\"object\",\"properties\":{\"a\":{\"minLength\":1}}}");
	rc = js_check(js_jsonc_accessor(), js_jsonc_node(s), NULL, &p);
	CHECK(rc == JS_OK && p && p->count == 0, "good schema has no problems");
	js_problems_free(p);
	json_object_put(s);
}

typedef struct counting
{
	long		mallocs,
				reallocs,
				frees,
				live;
} counting;

/* counting allocator: malloc */
static void *
c_malloc(void *ctx, size_t n)
{
	counting   *c = ctx;
	size_t	   *p = malloc(n + 16);

	if (!p)
		return NULL;
	c->mallocs++;
	c->live++;
	*p = n;
	return (char *) p + 16;
}

/* counting allocator: realloc */
static void *
c_realloc(void *ctx, void *ptr, size_t n)
{
	counting   *c = ctx;
	char	   *p = realloc((char *) ptr - 16, n + 16);

	if (!p)
		return NULL;
	c->reallocs++;
	return p + 16;
}

/* counting allocator: free */
static void
c_free(void *ctx, void *ptr)
{
	counting   *c = ctx;

	c->frees++;
	c->live--;
	free((char *) ptr - 16);
}

/* all engine memory goes through the caller's allocator */
static void
test_allocator(void)
{
	counting	cnt = {0, 0, 0, 0};
	js_allocator al = {c_malloc, c_realloc, c_free, &cnt};
	js_options	opt;
	js_registry *reg = js_registry_new(&al);
	struct json_object *remote = parse("{\"$defs\":{\"n\":{\"type\":\"number\",\"pattern\":\"x\"}}}");
	js_compiled *cs;
	js_result  *r;

	CHECK(js_registry_add(reg, "http://example.com/r.json", js_jsonc_accessor(),
						  js_jsonc_node(remote)) == JS_OK, "registry add");
	json_object_put(remote);
	js_options_init(&opt);
	opt.allocator = &al;
	opt.registry = reg;
	cs = compile("{\"properties\":{\"a\":{\"$ref\":\"http://example.com/r.json#/$defs/n\"},"
				 "\"s\":{\"pattern\":\"^a\"}},\"uniqueItems\":true}", &opt);
	CHECK(cs != NULL, "compile with registry");
	js_registry_free(reg);		/* compiled schema must not depend on it */
	r = validate(cs, "{\"a\":\"str\",\"s\":\"b\"}");
	CHECK(r && r->outcome == JS_INVALID && r->error_count == 3, "validate with custom allocator");
	CHECK(has_error(r, "/a", "/properties/a/$ref/type"), "remote ref location");
	js_result_free(r);
	js_compiled_free(cs);
	CHECK(cnt.mallocs > 5, "allocator used: %ld mallocs", cnt.mallocs);
	CHECK(cnt.live == 0, "all memory returned: %ld live", cnt.live);
}

/* a ~20 MB instance (200,000 objects under uniqueItems) validates; its time is reported */
static void
test_large(void)
{
	size_t		n = quick ? 2000 : 200000;
	size_t		cap = n * 110 + 16,
				k = 0;
	char	   *buf = malloc(cap);
	struct json_tokener *tok;
	struct json_object *o;
	js_compiled *cs;
	js_result  *r = NULL;
	double		t0,
				dt;

	k += (size_t) sprintf(buf + k, "[");
	for (size_t i = 0; i < n; i++)
		k += (size_t) sprintf(buf + k, "%s{\"id\":%zu,\"name\":\"item-%zu-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
							  "\"tags\":[\"a\",\"b\"],\"ok\":true}", i ? "," : "", i, i);
	sprintf(buf + k, "]");
	tok = json_tokener_new_ex(64);
	o = json_tokener_parse_ex(tok, buf, (int) strlen(buf));
	json_tokener_free(tok);
	CHECK(o != NULL, "large parse");
	cs = compile("{\"type\":\"array\",\"uniqueItems\":true,\"items\":{\"type\":\"object\","
				 "\"required\":[\"id\",\"name\"],\"properties\":{\"id\":{\"type\":\"integer\",\"minimum\":0},"
				 "\"name\":{\"type\":\"string\",\"pattern\":\"^item-\"},\"tags\":{\"items\":{\"enum\":[\"a\",\"b\"]}}},"
				 "\"unevaluatedProperties\":{\"type\":\"boolean\"}}}", NULL);
	t0 = now();
	CHECK(js_validate(cs, js_jsonc_accessor(), js_jsonc_node(o), JS_MODE_COLLECT, &r) == JS_OK &&
		  r->outcome == JS_VALID, "large instance valid");
	dt = now() - t0;
	if (!quick)
	{
		CHECK(strlen(buf) > 20 * 1000 * 1000, "instance is %zu bytes", strlen(buf));
		/* the time is reported, not asserted: speed is the benches' business */
		printf("  large instance: %.1f MB validated in %.2fs\n", strlen(buf) / 1e6, dt);
	}
	js_result_free(r);
	js_compiled_free(cs);
	json_object_put(o);
	free(buf);
}

/* draft selection by $schema and draft-07 $ref sibling semantics */
static void
test_drafts(void)
{
	js_compiled *cs = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
							  "\"definitions\":{\"s\":{\"type\":\"string\"}},"
							  "\"properties\":{\"a\":{\"$ref\":\"#/definitions/s\",\"maxLength\":1}}}", NULL);
	js_result  *r = validate(cs, "{\"a\":\"long\"}");

	CHECK(r && r->outcome == JS_VALID, "draft-07 ignores $ref siblings");
	js_result_free(r);
	js_compiled_free(cs);
	cs = compile("{\"$defs\":{\"s\":{\"type\":\"string\"}},"
				 "\"properties\":{\"a\":{\"$ref\":\"#/$defs/s\",\"maxLength\":1}}}", NULL);
	r = validate(cs, "{\"a\":\"long\"}");
	CHECK(r && r->outcome == JS_INVALID && has_error(r, "/a", "/properties/a/maxLength"), "2020-12 applies siblings");
	js_result_free(r);
	js_compiled_free(cs);
	/* meta-schema validation through the embedded meta-schemas */
	cs = compile("{\"$ref\":\"https://json-schema.org/draft/2020-12/schema\"}", NULL);
	r = validate(cs, "{\"type\":5}");
	CHECK(r && r->outcome == JS_INVALID, "schema invalid against meta-schema");
	js_result_free(r);
	js_compiled_free(cs);
}

/* the older dialects, chosen by $schema, also inside another document */
static void
test_older_dialects(void)
{
	js_compiled *cs;
	js_result  *r;

	/* a draft-06 resource embedded in a draft-07 document (SchemaStore's ui5-manifest) */
	cs = compile("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
				 "\"properties\":{\"a\":{\"$ref\":\"#/definitions/d6\"}},"
				 "\"definitions\":{\"d6\":{\"$id\":\"http://example.com/d6.json\","
				 "\"$schema\":\"http://json-schema.org/draft-06/schema#\","
				 "\"if\":false,\"const\":1}}}", NULL);
	CHECK(cs != NULL, "draft-06 resource inside draft-07 compiles");
	r = cs ? validate(cs, "{\"a\":1}") : NULL;
	CHECK(r && r->outcome == JS_VALID, "draft-06 ignores if, keeps const");
	js_result_free(r);
	r = cs ? validate(cs, "{\"a\":2}") : NULL;
	CHECK(r && r->outcome == JS_INVALID, "draft-06 const applies");
	js_result_free(r);
	js_compiled_free(cs);

	/* draft-04: id, boolean exclusiveMaximum, no const */
	cs = compile("{\"$schema\":\"http://json-schema.org/draft-04/schema#\","
				 "\"id\":\"http://example.com/d4.json\",\"maximum\":3,"
				 "\"exclusiveMaximum\":true,\"const\":7}", NULL);
	CHECK(cs != NULL, "draft-04 compiles");
	r = cs ? validate(cs, "3") : NULL;
	CHECK(r && r->outcome == JS_INVALID && has_error(r, "", "/exclusiveMaximum"),
		  "draft-04 exclusive maximum");
	js_result_free(r);
	r = cs ? validate(cs, "2.5") : NULL;
	CHECK(r && r->outcome == JS_VALID, "draft-04 ignores const");
	js_result_free(r);
	js_compiled_free(cs);

	/* 2019-09: $recursiveRef extends a tree through $recursiveAnchor */
	cs = compile("{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\","
				 "\"$id\":\"http://example.com/strict\",\"$recursiveAnchor\":true,"
				 "\"$ref\":\"tree\",\"unevaluatedProperties\":false,"
				 "\"$defs\":{\"tree\":{\"$id\":\"tree\",\"$recursiveAnchor\":true,"
				 "\"type\":\"object\",\"properties\":{\"data\":true,"
				 "\"children\":{\"type\":\"array\",\"items\":{\"$recursiveRef\":\"#\"}}}}}}", NULL);
	CHECK(cs != NULL, "2019-09 $recursiveRef compiles");
	r = cs ? validate(cs, "{\"children\":[{\"data\":1}]}") : NULL;
	CHECK(r && r->outcome == JS_VALID, "2019-09 recursive tree valid");
	js_result_free(r);
	r = cs ? validate(cs, "{\"children\":[{\"daat\":1}]}") : NULL;
	CHECK(r && r->outcome == JS_INVALID, "2019-09 $recursiveRef reaches the outermost anchor");
	js_result_free(r);
	js_compiled_free(cs);

	/* the default dialect of a schema without $schema */
	{
		js_options	opt;

		js_options_init(&opt);
		opt.default_draft = JS_DRAFT_4;
		cs = compile("{\"minimum\":1,\"exclusiveMinimum\":true}", &opt);
		r = cs ? validate(cs, "1") : NULL;
		CHECK(r && r->outcome == JS_INVALID, "default draft-04");
		js_result_free(r);
		js_compiled_free(cs);
	}
}

/* entry point */
int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
	test_locations();
	test_error_cap();
	test_depth();
	test_numbers();
	test_fast_paths();
	test_strings();
	test_ref_loop();
	test_regex_limit();
	test_format();
	test_check();
	test_allocator();
	test_drafts();
	test_older_dialects();
	test_large();
	printf("engine: %d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
