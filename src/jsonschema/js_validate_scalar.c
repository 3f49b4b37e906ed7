/*
 * js_validate_scalar.c - the keywords that look at one value: type, const,
 * enum, the number assertions (minimum, maximum, exclusive*, multipleOf)
 * and the string assertions (minLength, maxLength, pattern, format).
 */
#include "js_internal.h"

#include <math.h>

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

/* true if x is a multiple of m */
static int
is_multiple(double x, double m)
{
	double		q;

	if (floor(m) == m && floor(x) == x && fabs(x) < 9e15 && m < 9e15)
		return fmod(x, m) == 0;
	q = x / m;
	if (!isfinite(q))
		return 0;
	return fabs(q - nearbyint(q)) <= 1e-9 * (fabs(q) > 1 ? 1 : 1);
}

/* a readable name for a JSON type */
static const char *
type_name(js_type t, double x)
{
	switch (t)
	{
		case JS_NULL: return "null";
		case JS_BOOL: return "boolean";
		case JS_NUMBER: return floor(x) == x && isfinite(x) ? "integer" : "number";
		case JS_STRING: return "string";
		case JS_ARRAY: return "array";
		case JS_OBJECT: return "object";
	}
	return "?";
}

/* type/const/enum and the number and string assertions */
JS_NOINLINE int
js_eval_scalar_kw(js_vctx *c, const js_schema *s, js_node in, js_type t,
				  const js_seg *ip, const js_seg *kp)
{
	const js_accessor *acc = c->acc;
	int			valid = 1;
	double		x = 0;
	int			isint = 0;

	if (t == JS_NUMBER)
	{
		acc->number(acc->ctx, in, &x, &isint);
		isint = isint || (isfinite(x) && floor(x) == x);
	}
	if (s->flags & JS_F_TYPE)
	{
		unsigned	bit = t == JS_NULL ? JS_T_NULL : t == JS_BOOL ? JS_T_BOOL :
			t == JS_NUMBER ? JS_T_NUMBER : t == JS_STRING ? JS_T_STRING :
			t == JS_ARRAY ? JS_T_ARRAY : JS_T_OBJECT;

		if (!(s->types & bit) && !(t == JS_NUMBER && isint && (s->types & JS_T_INTEGER)))
		{
			JS_KSEG("type", k);
			js_report(c, ip, &k, "value of type %s is not allowed", type_name(t, x));
			JS_FAIL();
		}
	}
	if (s->flags & JS_F_CONST)
	{
		int			r = js_equal(acc, in, &js_val_accessor, js_val_node(s->const_v),
								 c->cs->max_instance_depth);

		JS_KSEG("const", k);
		if (r < 0)
		{
			js_limit_error(c, ip, &k, "instance nesting exceeds depth limit");
			return 0;
		}
		if (!r)
		{
			js_report(c, ip, &k, "value does not equal the constant");
			JS_FAIL();
		}
	}
	if (s->flags & JS_F_ENUM)
	{
		int			found = 0;

		JS_KSEG("enum", k);
		for (size_t i = 0; i < s->nenum && !found; i++)
		{
			int			r = js_equal(acc, in, &js_val_accessor, js_val_node(s->enum_v[i]),
									 c->cs->max_instance_depth);

			if (r < 0)
			{
				js_limit_error(c, ip, &k, "instance nesting exceeds depth limit");
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
	if (t == JS_NUMBER && (s->flags & JS_F_NUMKW))
	{
		if ((s->flags & JS_F_MIN) && x < s->minimum)
		{
			JS_KSEG("minimum", k);
			js_report(c, ip, &k, "value %.17g is less than minimum %.17g", x, s->minimum);
			JS_FAIL();
		}
		if ((s->flags & JS_F_MAX) && x > s->maximum)
		{
			JS_KSEG("maximum", k);
			js_report(c, ip, &k, "value %.17g is greater than maximum %.17g", x, s->maximum);
			JS_FAIL();
		}
		if ((s->flags & JS_F_XMIN) && x <= s->xminimum)
		{
			JS_KSEG("exclusiveMinimum", k);
			js_report(c, ip, &k, "value %.17g is not greater than %.17g", x, s->xminimum);
			JS_FAIL();
		}
		if ((s->flags & JS_F_XMAX) && x >= s->xmaximum)
		{
			JS_KSEG("exclusiveMaximum", k);
			js_report(c, ip, &k, "value %.17g is not less than %.17g", x, s->xmaximum);
			JS_FAIL();
		}
		if ((s->flags & JS_F_MULT) && !is_multiple(x, s->multiple_of))
		{
			JS_KSEG("multipleOf", k);
			js_report(c, ip, &k, "value %.17g is not a multiple of %.17g", x, s->multiple_of);
			JS_FAIL();
		}
	}
	if (t == JS_STRING && ((s->flags & (JS_F_MINLEN | JS_F_MAXLEN | JS_F_FORMAT)) || s->pattern))
	{
		const char *str;
		size_t		len,
					cps;

		acc->string(acc->ctx, in, &str, &len);
		if (s->flags & (JS_F_MINLEN | JS_F_MAXLEN))
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
				js_limit_error(c, ip, &k, "regular expression match limit exceeded");
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
