/*
 * js_validate_scalar.c - the keywords that look at one value: type, const,
 * enum, the number assertions (minimum, maximum, exclusive*, multipleOf)
 * and the string assertions (minLength, maxLength, pattern, format).
 */
#include "js_internal.h"

#include <string.h>


/* number of UTF-8 code points in s */
static size_t
utf8_len(const char *s, size_t n)
{
	size_t		k = 0;

	for (size_t i = 0; i < n; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			k++;
	return k;
}

/*
 * Does scalar instance 'in' (type t: null, boolean or string) equal the
 * schema value v?  The common const/enum members, compared without the
 * generic js_equal and its accessor calls.
 */
static inline int
scalar_equals(const js_accessor *acc, js_node in, js_type t, const char *str, size_t len,
			  const js_val *v)
{
	if (v->type != t)
		return 0;
	if (t == JS_STRING)
		return v->n == len && js_short_cmp(v->u.str, str, len) == 0;
	if (t == JS_BOOL)
		return !v->u.b == !acc->boolean(acc->ctx, in);
	return 1;
}

/* a readable name for a JSON type (numbers: integer when whole) */
static const char *
type_name(js_type t, const js_dec *x)
{
	switch (t)
	{
		case JS_NULL: return "null";
		case JS_BOOL: return "boolean";
		case JS_NUMBER: return x && js_dec_is_int(x) ? "integer" : "number";
		case JS_STRING: return "string";
		case JS_ARRAY: return "array";
		case JS_OBJECT: return "object";
	}
	return "?";
}

/* report a failed number bound: "value <x> <what> <bound>" */
static void
report_bound(js_vctx *c, const js_seg *ip, const js_seg *k, const js_dec *x,
			 const char *what, const js_dec *bound)
{
	char		xs[64],
				bs[64];

	if (!c->collect || c->quiet || c->stop)
		return;
	js_dec_format(x, xs, sizeof xs);
	js_dec_format(bound, bs, sizeof bs);
	js_report(c, ip, k, "value %s %s %s", xs, what, bs);
}

/* minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf: exact */
static JS_NOINLINE int
eval_number_kw(js_vctx *c, const js_schema *s, const js_dec *x,
			   const js_seg *ip, const js_seg *kp)
{
	int			valid = 1;

	if ((s->flags & JS_F_MIN) && js_dec_cmp(x, &s->minimum) < 0)
	{
		JS_KSEG("minimum", k);
		report_bound(c, ip, &k, x, "is less than minimum", &s->minimum);
		JS_FAIL();
	}
	if ((s->flags & JS_F_MAX) && js_dec_cmp(x, &s->maximum) > 0)
	{
		JS_KSEG("maximum", k);
		report_bound(c, ip, &k, x, "is greater than maximum", &s->maximum);
		JS_FAIL();
	}
	if ((s->flags & JS_F_XMIN) && js_dec_cmp(x, &s->xminimum) <= 0)
	{
		JS_KSEG("exclusiveMinimum", k);
		report_bound(c, ip, &k, x, "is not greater than", &s->xminimum);
		JS_FAIL();
	}
	if ((s->flags & JS_F_XMAX) && js_dec_cmp(x, &s->xmaximum) >= 0)
	{
		JS_KSEG("exclusiveMaximum", k);
		report_bound(c, ip, &k, x, "is not less than", &s->xmaximum);
		JS_FAIL();
	}
	if (s->flags & JS_F_MULT)
	{
		int			m = js_dec_multiple(x, &s->multiple_of, &c->scratch);

		JS_KSEG("multipleOf", k);
		if (m == -2)
		{
			c->oom = c->stop = 1;
			return 0;
		}
		if (m < 0)
		{
			js_limit_error(c, ip, &k, JS_LIMIT_NUMBER,
						   "multipleOf needs too many digits of exact arithmetic");
			return 0;
		}
		if (!m)
		{
			report_bound(c, ip, &k, x, "is not a multiple of", &s->multiple_of);
			JS_FAIL();
		}
	}
	return valid;
}

/* type/const/enum and the number and string assertions */
JS_NOINLINE int
js_eval_scalar_kw(js_vctx *c, const js_schema *s, js_node in, js_type t,
				  const js_seg *ip, const js_seg *kp)
{
	const js_accessor *acc = c->acc;
	int			valid = 1;
	js_num		x;

	int			have_x = 0;

	/*
	 * numbers are read once, exactly, and only when a keyword needs them:
	 * "type" only when it allows integers but not all numbers
	 */
	if (t == JS_NUMBER && ((s->flags & JS_F_NUMKW) ||
						   ((s->flags & JS_F_TYPE) && !(s->types & JS_T_NUMBER))))
	{
		js_num_read(acc, in, &x);
		have_x = 1;
	}
	if (s->flags & JS_F_TYPE)
	{
		unsigned	bit = t == JS_NULL ? JS_T_NULL : t == JS_BOOL ? JS_T_BOOL :
			t == JS_NUMBER ? JS_T_NUMBER : t == JS_STRING ? JS_T_STRING :
			t == JS_ARRAY ? JS_T_ARRAY : JS_T_OBJECT;

		if (!(s->types & bit) &&
			!(t == JS_NUMBER && (s->types & JS_T_INTEGER) && js_dec_is_int(&x.d)))
		{
			JS_KSEG("type", k);
			js_report(c, ip, &k, "value of type %s is not allowed",
					  have_x ? type_name(t, &x.d) : type_name(t, NULL));
			JS_FAIL();
		}
	}
	if ((s->flags & (JS_F_CONST | JS_F_ENUM)) && (t == JS_STRING || t == JS_BOOL || t == JS_NULL))
	{
		const char *str = NULL;
		size_t		len = 0;
		int			found = 0;

		if (t == JS_STRING)
			acc->string(acc->ctx, in, &str, &len);
		if ((s->flags & JS_F_CONST) && !scalar_equals(acc, in, t, str, len, s->const_v))
		{
			JS_KSEG("const", k);
			js_report(c, ip, &k, "value does not equal the constant");
			JS_FAIL();
		}
		for (size_t i = 0; (s->flags & JS_F_ENUM) && i < s->nenum && !found; i++)
			found = scalar_equals(acc, in, t, str, len, s->enum_v[i]);
		if ((s->flags & JS_F_ENUM) && !found)
		{
			JS_KSEG("enum", k);
			js_report(c, ip, &k, "value is not one of the enumerated values");
			JS_FAIL();
		}
	}
	else if (s->flags & JS_F_CONST)
	{
		int			r = js_equal(acc, in, &js_val_accessor, js_val_node(s->const_v),
								 c->cs->max_instance_depth, &c->stack);

		JS_KSEG("const", k);
		if (r < 0)
		{
			js_limit_error(c, ip, &k, JS_LIMIT_DEPTH, "value nesting too deep to compare");
			return 0;
		}
		if (!r)
		{
			js_report(c, ip, &k, "value does not equal the constant");
			JS_FAIL();
		}
	}
	if ((s->flags & JS_F_ENUM) && !(t == JS_STRING || t == JS_BOOL || t == JS_NULL))
	{
		int			found = 0;

		JS_KSEG("enum", k);
		for (size_t i = 0; i < s->nenum && !found; i++)
		{
			int			r = js_equal(acc, in, &js_val_accessor, js_val_node(s->enum_v[i]),
									 c->cs->max_instance_depth, &c->stack);

			if (r < 0)
			{
				js_limit_error(c, ip, &k, JS_LIMIT_DEPTH, "value nesting too deep to compare");
				return 0;
			}
			found = r;
		}
		if (!found)
		{
			js_report(c, ip, &k, "value is not one of the enumerated values");
			JS_FAIL();
		}
	}
	if (t == JS_NUMBER && (s->flags & JS_F_NUMKW) && !eval_number_kw(c, s, &x.d, ip, kp))
	{
		if (c->oom || c->limit)
			return 0;
		JS_FAIL();
	}
	if (t == JS_STRING && ((s->flags & (JS_F_MINLEN | JS_F_MAXLEN | JS_F_FORMAT)) || s->pattern))
	{
		const char *str;
		size_t		len,
					cps;

		acc->string(acc->ctx, in, &str, &len);
		/*
		 * a string of len bytes has between len/4 and len code points: count
		 * them only when the bounds do not already decide
		 */
		if (((s->flags & JS_F_MINLEN) && len / 4 < s->min_length) ||
			((s->flags & JS_F_MAXLEN) && len > s->max_length))
		{
			cps = utf8_len(str, len);
			if ((s->flags & JS_F_MINLEN) && cps < s->min_length)
			{
				JS_KSEG("minLength", k);
				js_report(c, ip, &k, "string is shorter than %zu characters", s->min_length);
				JS_FAIL();
			}
			if ((s->flags & JS_F_MAXLEN) && cps > s->max_length)
			{
				JS_KSEG("maxLength", k);
				js_report(c, ip, &k, "string is longer than %zu characters", s->max_length);
				JS_FAIL();
			}
		}
		if (s->pattern)
		{
			int			m;

			JS_KSEG("pattern", k);
			if (!c->mdata && !(c->mdata = js_regex_mdata_new(c->cs->renv)))
			{
				c->oom = c->stop = 1;
				return 0;
			}
			m = js_regex_match(c->cs->renv, c->mdata, s->pattern, str, len);
			if (m < 0)
			{
				js_limit_error(c, ip, &k, JS_LIMIT_REGEX, "regular expression match limit exceeded");
				return 0;
			}
			if (!m)
			{
				js_report(c, ip, &k, "string does not match pattern \"%s\"", s->pattern_src);
				JS_FAIL();
			}
		}
		if (s->format_assert && !s->format(str, len, c->cs->renv))
		{
			JS_KSEG("format", k);
			js_report(c, ip, &k, "string is not a valid \"%s\"", s->format_name);
			JS_FAIL();
		}
	}
	return valid;
}
