/*
 * js_validate.c - evaluate an instance against a compiled schema: keyword
 * semantics, annotation tracking for unevaluated*, dynamic scope for
 * $dynamicRef, error collection and the depth / $ref-loop / regex limits.
 */
#include "js_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* append an error record (respects the cap) */
static void
add_error(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt, va_list ap)
{
	js_result  *r = c->res;
	js_result_priv *rp = c->rp;
	js_buf		b;
	js_error   *e;

	if (r->error_count >= c->cs->max_errors)
	{
		r->truncated = 1;
		c->stop = 1;
		return;
	}
	if (r->error_count == rp->cap)
	{
		size_t		nc = rp->cap ? rp->cap * 2 : 8;
		js_error   *ne = js_arealloc(&rp->arena.al, r->errors, nc * sizeof(js_error));

		if (!ne)
		{
			c->oom = c->stop = 1;
			return;
		}
		r->errors = ne;
		rp->cap = nc;
	}
	e = &r->errors[r->error_count];
	js_buf_init(&b, &rp->arena.al);
	js_buf_pointer(&b, ip);
	e->instance_location = js_arena_strndup(&rp->arena, b.s ? b.s : "", b.len);
	b.len = 0;
	js_buf_pointer(&b, kp);
	e->keyword_location = js_arena_strndup(&rp->arena, b.s ? b.s : "", b.len);
	b.len = 0;
	js_buf_vprintf(&b, fmt, ap);
	e->message = js_arena_strndup(&rp->arena, b.s ? b.s : "", b.len);
	if (b.oom || !e->instance_location || !e->keyword_location || !e->message)
		c->oom = c->stop = 1;
	else
		r->error_count++;
	js_buf_free(&b);
	if (r->error_count >= c->cs->max_errors)
	{
		r->truncated = 1;
		c->stop = 1;
	}
}

/* record a validation error unless errors are being dropped */
void
js_report(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt,...)
{
	va_list		ap;

	if (!c->collect || c->quiet || c->stop)
		return;
	va_start(ap, fmt);
	add_error(c, ip, kp, fmt, ap);
	va_end(ap);
}

/* record a limit error: always fatal for the whole validation */
void
js_limit_error(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt,...)
{
	va_list		ap;

	if (c->limit)
		return;
	c->limit = 1;
	if (c->collect)
	{
		c->stop = 0;
		va_start(ap, fmt);
		add_error(c, ip, kp, fmt, ap);
		va_end(ap);
	}
	c->stop = 1;
}

/* set up an empty annotation set for instance n of type t */
int
js_ann_init(js_vctx *c, js_ann *a, js_type t, js_node n)
{
	a->all = 0;
	a->n = 0;
	a->bits = NULL;
	if (t == JS_ARRAY)
		a->n = c->acc->array_size(c->acc->ctx, n);
	else if (t == JS_OBJECT)
		a->n = c->acc->object_size(c->acc->ctx, n);
	if (a->n)
	{
		a->bits = js_arena_zalloc(&c->scratch, (a->n + 7) / 8);
		if (!a->bits)
		{
			c->oom = c->stop = 1;
			return 0;
		}
	}
	return 1;
}

/* merge annotations src into dst */
void
js_ann_merge(js_ann *dst, const js_ann *src)
{
	if (!dst)
		return;
	dst->all |= src->all;
	if (dst->bits && src->bits && dst->n == src->n)
		for (size_t i = 0; i < (dst->n + 7) / 8; i++)
			dst->bits[i] |= src->bits[i];
}

/* evaluate a subschema in "quiet" mode (errors dropped, stop at failure) */
int
js_eval_quiet(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	int			ok;

	c->quiet++;
	ok = js_eval(c, s, in, idepth, ip, kp, out, depth);
	c->quiet--;
	return ok && !c->stop;
}

/* follow a reference with loop detection */
static int
eval_ref(js_vctx *c, const js_schema *target, js_node in, size_t idepth,
		 const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	js_rframe	f;
	int			ok;

	for (const js_rframe *r = c->refs; r && r->idepth == idepth; r = r->up)
		if (r->target == target)
		{
			js_limit_error(c, ip, kp, "reference loop: schema re-entered without consuming the instance");
			return 0;
		}
	f.up = c->refs;
	f.target = target;
	f.idepth = idepth;
	c->refs = &f;
	ok = js_eval(c, target, in, idepth, ip, kp, out, depth + 1);
	c->refs = f.up;
	return ok;
}

/* find the outermost dynamic-scope schema for $dynamicAnchor name */
static const js_schema *
dynamic_target(js_vctx *c, const js_schema *s)
{
	const js_schema *found = s->dynref;

	for (const js_dscope *d = c->dyn; d; d = d->up)
		for (size_t i = 0; d->res && i < d->res->ndyn; i++)
			if (d->res->dyn[i].len == s->dyn_name_len &&
				memcmp(d->res->dyn[i].name, s->dyn_name, s->dyn_name_len) == 0)
			{
				found = d->res->dyn[i].s;
				break;
			}
	return found;
}

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

typedef struct hidx
{
	uint64_t	h;
	size_t		i;
} hidx;

/* order (hash, index) pairs */
static int
hidx_cmp(const void *a, const void *b)
{
	const hidx *x = a,
			   *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* uniqueItems via hashing: returns 1 unique, 0 duplicate, -1 too deep */
static JS_NOINLINE int
items_unique(js_vctx *c, js_node in, size_t n)
{
	const js_accessor *acc = c->acc;
	js_mark		mk = js_arena_mark(&c->scratch);
	hidx	   *h = js_arena_alloc(&c->scratch, n * sizeof(hidx));
	int			res = 1;

	if (!h)
	{
		c->oom = c->stop = 1;
		return 1;
	}
	for (size_t i = 0; i < n; i++)
	{
		js_node		e;

		acc->array_get(acc->ctx, in, i, &e);
		h[i].h = js_value_hash(acc, e, c->cs->max_instance_depth);
		h[i].i = i;
	}
	qsort(h, n, sizeof(hidx), hidx_cmp);
	for (size_t i = 0; i < n && res == 1; i++)
		for (size_t j = i + 1; j < n && h[j].h == h[i].h && res == 1; j++)
		{
			js_node		a,
						b;
			int			r;

			acc->array_get(acc->ctx, in, h[i].i, &a);
			acc->array_get(acc->ctx, in, h[j].i, &b);
			r = js_equal(acc, a, acc, b, c->cs->max_instance_depth);
			if (r != 0)
				res = r < 0 ? -1 : 0;
		}
	js_arena_release(&c->scratch, mk);
	return res;
}

/* array keywords: prefixItems/items/contains/min/maxItems/uniqueItems */
JS_NOINLINE int
js_eval_array(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	const js_accessor *acc = c->acc;
	size_t		n = acc->array_size(acc->ctx, in);
	int			valid = 1;

	if ((s->flags & JS_F_MINITEMS) && n < s->min_items)
	{
		JS_KSEG("minItems", k);
		js_report(c, ip, &k, "array has fewer than %zu items", s->min_items);
		JS_FAIL();
	}
	if ((s->flags & JS_F_MAXITEMS) && n > s->max_items)
	{
		JS_KSEG("maxItems", k);
		js_report(c, ip, &k, "array has more than %zu items", s->max_items);
		JS_FAIL();
	}
	if ((s->flags & JS_F_UNIQUE) && n > 1)
	{
		int			r = items_unique(c, in, n);

		JS_KSEG("uniqueItems", k);
		if (r < 0)
		{
			js_limit_error(c, ip, &k, "instance nesting exceeds depth limit");
			return 0;
		}
		if (r == 0)
		{
			js_report(c, ip, &k, "array items are not unique");
			JS_FAIL();
		}
	}
	if (s->n_prefix || s->items)
	{
		js_seg		pk = {kp, s->prefix_kw, s->prefix_kw ? strlen(s->prefix_kw) : 0, 0};
		js_seg		ik = {kp, s->items_kw, s->items_kw ? strlen(s->items_kw) : 0, 0};

		for (size_t i = 0; i < n; i++)
		{
			js_node		e;
			js_seg		is = {ip, NULL, 0, i};
			js_seg		ks = {&pk, NULL, 0, i};
			const js_schema *sub = i < s->n_prefix ? s->prefix[i] : s->items;

			if (!sub)
				break;
			acc->array_get(acc->ctx, in, i, &e);
			if (!js_eval(c, sub, e, idepth + 1, &is, i < s->n_prefix ? &ks : &ik, NULL, depth + 1))
				JS_FAIL();
			js_ann_set(a, i);
		}
		if (a && s->items)
			a->all = 1;
	}
	if (s->contains)
	{
		size_t		count = 0;
		size_t		minc = (s->flags & JS_F_MINCONT) ? s->min_contains : 1;
		int			need_all = a || (s->flags & JS_F_MAXCONT) || !c->quiet;

		JS_KSEG("contains", k);
		for (size_t i = 0; i < n; i++)
		{
			js_node		e;
			js_seg		is = {ip, NULL, 0, i};

			acc->array_get(acc->ctx, in, i, &e);
			if (js_eval_quiet(c, s->contains, e, idepth + 1, &is, &k, NULL, depth + 1))
			{
				count++;
				js_ann_set(a, i);
				if (!need_all && count >= minc)
					break;
			}
			if (c->stop)
				return 0;
		}
		if (count < minc)
		{
			if (s->flags & JS_F_MINCONT)
			{
				JS_KSEG("minContains", mk);
				js_report(c, ip, &mk, "array contains fewer than %zu matching items", minc);
			}
			else
				js_report(c, ip, &k, "array does not contain a matching item");
			JS_FAIL();
		}
		if ((s->flags & JS_F_MAXCONT) && count > s->max_contains)
		{
			JS_KSEG("maxContains", mk);
			js_report(c, ip, &mk, "array contains more than %zu matching items", s->max_contains);
			JS_FAIL();
		}
	}
	return valid;
}

/* binary search a property schema by name */
static const js_schema *
find_prop(const js_schema *s, const char *k, size_t kl, const char **name)
{
	size_t		lo = 0,
				hi = s->n_props;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;
		const js_named *p = &s->props[mid];
		int			cmp = p->len != kl ? (p->len < kl ? -1 : 1) : memcmp(p->name, k, kl);

		if (cmp == 0)
		{
			*name = p->name;
			return p->s;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* is property k present in object in? */
static int
has_prop(js_vctx *c, js_node in, const char *k, size_t kl)
{
	js_node		dummy;

	return c->acc->object_get(c->acc->ctx, in, k, kl, &dummy);
}

/* object keywords */
JS_NOINLINE int
js_eval_object(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			   const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	const js_accessor *acc = c->acc;
	size_t		n = acc->object_size(acc->ctx, in);
	int			valid = 1;

	if ((s->flags & JS_F_MINPROPS) && n < s->min_props)
	{
		JS_KSEG("minProperties", k);
		js_report(c, ip, &k, "object has fewer than %zu properties", s->min_props);
		JS_FAIL();
	}
	if ((s->flags & JS_F_MAXPROPS) && n > s->max_props)
	{
		JS_KSEG("maxProperties", k);
		js_report(c, ip, &k, "object has more than %zu properties", s->max_props);
		JS_FAIL();
	}
	for (size_t i = 0; i < s->required.n; i++)
		if (!has_prop(c, in, s->required.s[i], s->required.len[i]))
		{
			JS_KSEG("required", k);
			js_report(c, ip, &k, "required property \"%.*s\" is missing",
					  (int) s->required.len[i], s->required.s[i]);
			JS_FAIL();
		}
	for (size_t d = 0; d < s->n_dep_req; d++)
	{
		const js_depreq *dr = &s->dep_req[d];

		if (!has_prop(c, in, dr->name, dr->len))
			continue;
		for (size_t i = 0; i < dr->req.n; i++)
			if (!has_prop(c, in, dr->req.s[i], dr->req.len[i]))
			{
				js_seg		k1 = {kp, s->depreq_kw, strlen(s->depreq_kw), 0};
				js_seg		k2 = {&k1, dr->name, dr->len, 0};

				js_report(c, ip, &k2, "property \"%.*s\" is required when \"%.*s\" is present",
						  (int) dr->req.len[i], dr->req.s[i], (int) dr->len, dr->name);
				JS_FAIL();
			}
	}
	if (s->n_props || s->n_pprops || s->addl_props || s->prop_names)
	{
		js_iter		it;
		const char *key;
		size_t		kl,
					idx = 0;
		js_node		v;

		memset(&it, 0, sizeof it);
		while (acc->object_next(acc->ctx, in, &it, &key, &kl, &v))
		{
			js_seg		is = {ip, key, kl, 0};
			int			matched = 0;
			const char *pname;
			const js_schema *ps = s->n_props ? find_prop(s, key, kl, &pname) : NULL;

			if (ps)
			{
				JS_KSEG("properties", k1);
				js_seg		k2 = {&k1, pname, kl, 0};

				matched = 1;
				if (!js_eval(c, ps, v, idepth + 1, &is, &k2, NULL, depth + 1))
					JS_FAIL();
			}
			for (size_t p = 0; p < s->n_pprops; p++)
			{
				int			m;

				JS_KSEG("patternProperties", k1);
				js_seg		k2 = {&k1, s->pprops[p].src, s->pprops[p].srclen, 0};

				if (!c->mdata && !(c->mdata = js_regex_mdata_new(c->cs->renv)))
				{
					c->oom = c->stop = 1;
					return 0;
				}
				m = js_regex_match(c->cs->renv, c->mdata, s->pprops[p].re, key, kl);
				if (m < 0)
				{
					js_limit_error(c, ip, &k2, "regular expression match limit exceeded");
					return 0;
				}
				if (m)
				{
					matched = 1;
					if (!js_eval(c, s->pprops[p].s, v, idepth + 1, &is, &k2, NULL, depth + 1))
						JS_FAIL();
				}
			}
			if (!matched && s->addl_props)
			{
				JS_KSEG("additionalProperties", k1);

				matched = 1;
				if (!js_eval(c, s->addl_props, v, idepth + 1, &is, &k1, NULL, depth + 1))
					JS_FAIL();
			}
			if (matched)
				js_ann_set(a, idx);
			if (s->prop_names)
			{
				js_val		name;
				const js_accessor *saved = c->acc;
				int			ok;

				JS_KSEG("propertyNames", k1);
				memset(&name, 0, sizeof name);
				name.type = JS_STRING;
				name.u.str = key;
				name.n = kl;
				c->acc = &js_val_accessor;
				ok = js_eval_quiet(c, s->prop_names, js_val_node(&name), idepth + 1, &is, &k1,
								   NULL, depth + 1);
				c->acc = saved;
				if (c->stop)
					return 0;
				if (!ok)
				{
					js_report(c, ip, &k1, "property name \"%.*s\" is not valid", (int) kl, key);
					JS_FAIL();
				}
			}
			idx++;
		}
	}
	for (size_t d = 0; d < s->n_dep_schemas; d++)
	{
		const js_named *ds = &s->dep_schemas[d];

		if (has_prop(c, in, ds->name, ds->len))
		{
			js_seg		k1 = {kp, s->dep_kw, strlen(s->dep_kw), 0};
			js_seg		k2 = {&k1, ds->name, ds->len, 0};

			if (!js_eval(c, ds->s, in, idepth, ip, &k2, a, depth + 1))
				JS_FAIL();
		}
	}
	return valid;
}

/* evaluate an optional annotation set for a branch, merging if valid */
static JS_NOINLINE int
eval_branch(js_vctx *c, const js_schema *s, js_node in, js_type t, size_t idepth,
			const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	int			ok;

	if (!a)
		return js_eval_quiet(c, s, in, idepth, ip, kp, NULL, depth + 1);
	{
		js_mark		mk = js_arena_mark(&c->scratch);
		js_ann		tmp;

		if (!js_ann_init(c, &tmp, t, in))
			return 0;
		ok = js_eval_quiet(c, s, in, idepth, ip, kp, &tmp, depth + 1);
		if (ok)
			js_ann_merge(a, &tmp);
		js_arena_release(&c->scratch, mk);
	}
	return ok;
}

/* allOf/anyOf/oneOf/not/if-then-else */
JS_NOINLINE int
js_eval_logic(js_vctx *c, const js_schema *s, js_node in, js_type t, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	int			valid = 1;

	if (s->n_all)
	{
		JS_KSEG("allOf", k);
		for (size_t i = 0; i < s->n_all; i++)
		{
			js_seg		ks = {&k, NULL, 0, i};

			if (!js_eval(c, s->all_of[i], in, idepth, ip, &ks, a, depth + 1))
				JS_FAIL();
		}
	}
	if (s->n_any)
	{
		int			any = 0;

		JS_KSEG("anyOf", k);
		for (size_t i = 0; i < s->n_any; i++)
		{
			js_seg		ks = {&k, NULL, 0, i};

			if (eval_branch(c, s->any_of[i], in, t, idepth, ip, &ks, a, depth))
			{
				any = 1;
				if (!a)
					break;
			}
			if (c->stop)
				return 0;
		}
		if (!any)
		{
			js_report(c, ip, &k, "value does not match any schema of anyOf");
			JS_FAIL();
		}
	}
	if (s->n_one)
	{
		size_t		count = 0;

		JS_KSEG("oneOf", k);
		for (size_t i = 0; i < s->n_one && count < 2; i++)
		{
			js_seg		ks = {&k, NULL, 0, i};

			if (eval_branch(c, s->one_of[i], in, t, idepth, ip, &ks, count == 0 ? a : NULL, depth))
				count++;
			if (c->stop)
				return 0;
		}
		if (count != 1)
		{
			js_report(c, ip, &k, count ? "value matches more than one schema of oneOf"
					  : "value does not match any schema of oneOf");
			JS_FAIL();
		}
	}
	if (s->not_)
	{
		JS_KSEG("not", k);
		int			ok = js_eval_quiet(c, s->not_, in, idepth, ip, &k, NULL, depth + 1);

		if (c->stop)
			return 0;
		if (ok)
		{
			js_report(c, ip, &k, "value must not match the schema of not");
			JS_FAIL();
		}
	}
	if (s->if_)
	{
		JS_KSEG("if", k);
		int			ok = eval_branch(c, s->if_, in, t, idepth, ip, &k, a, depth);

		if (c->stop)
			return 0;
		if (ok && s->then_)
		{
			JS_KSEG("then", k2);
			if (!js_eval(c, s->then_, in, idepth, ip, &k2, a, depth + 1))
				JS_FAIL();
		}
		else if (!ok && s->else_)
		{
			JS_KSEG("else", k2);
			if (!js_eval(c, s->else_, in, idepth, ip, &k2, a, depth + 1))
				JS_FAIL();
		}
	}
	return valid;
}

/* unevaluatedItems / unevaluatedProperties against annotations a */
JS_NOINLINE int
js_eval_unevaluated(js_vctx *c, const js_schema *s, js_node in, js_type t, size_t idepth,
					const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	const js_accessor *acc = c->acc;
	int			valid = 1;

	if (t == JS_ARRAY && s->uneval_items && !a->all)
	{
		JS_KSEG("unevaluatedItems", k);
		for (size_t i = 0; i < a->n; i++)
		{
			js_node		e;
			js_seg		is = {ip, NULL, 0, i};

			if (js_ann_get(a, i))
				continue;
			acc->array_get(acc->ctx, in, i, &e);
			if (!js_eval(c, s->uneval_items, e, idepth + 1, &is, &k, NULL, depth + 1))
				JS_FAIL();
		}
		a->all = 1;
	}
	if (t == JS_OBJECT && s->uneval_props && !a->all)
	{
		js_iter		it;
		const char *key;
		size_t		kl,
					idx = 0;
		js_node		v;

		JS_KSEG("unevaluatedProperties", k);
		memset(&it, 0, sizeof it);
		while (acc->object_next(acc->ctx, in, &it, &key, &kl, &v))
		{
			js_seg		is = {ip, key, kl, 0};

			if (!js_ann_get(a, idx++))
				if (!js_eval(c, s->uneval_props, v, idepth + 1, &is, &k, NULL, depth + 1))
					JS_FAIL();
		}
		a->all = 1;
	}
	return valid;
}

#undef JS_FAIL
#define JS_FAIL() do { valid = 0; if (c->quiet || c->stop) goto done; } while (0)

/* evaluate instance 'in' against schema s; 1 valid, 0 invalid */
int
js_eval(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
		const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	const js_accessor *acc = c->acc;
	js_dscope	ds;
	int			pushed = 0;
	int			valid = 1;
	int			have_local = 0;
	js_mark		mk = {NULL, 0};
	js_ann		local;
	js_ann	   *a = out;
	js_type		t;

	if (c->stop)
		return 0;
	if (!s || s->kind == JS_SK_TRUE)
		return 1;
	if (s->kind == JS_SK_FALSE)
	{
		js_report(c, ip, kp, "no value is allowed here (false schema)");
		return 0;
	}
	if (depth > c->cs->max_eval_depth)
	{
		js_limit_error(c, ip, kp, "evaluation depth exceeds limit (%d)", c->cs->max_eval_depth);
		return 0;
	}
	if (idepth > (size_t) c->cs->max_instance_depth)
	{
		js_limit_error(c, ip, kp, "instance nesting exceeds depth limit (%d)",
					   c->cs->max_instance_depth);
		return 0;
	}
	if (!c->dyn || c->dyn->res != s->res)
	{
		ds.up = c->dyn;
		ds.res = s->res;
		c->dyn = &ds;
		pushed = 1;
	}
	t = acc->type(acc->ctx, in);
	if (s->flags & JS_F_UNEVAL)
	{
		mk = js_arena_mark(&c->scratch);
		have_local = 1;
		if (!js_ann_init(c, &local, t, in))
		{
			valid = 0;
			goto done;
		}
		a = &local;
	}
	if (s->ref)
	{
		JS_KSEG("$ref", k);
		if (!eval_ref(c, s->ref, in, idepth, ip, &k, a, depth))
			JS_FAIL();
	}
	if (s->dynref)
	{
		JS_KSEG("$dynamicRef", k);
		const js_schema *target = s->dyn_dynamic ? dynamic_target(c, s) : s->dynref;

		if (!eval_ref(c, target, in, idepth, ip, &k, a, depth))
			JS_FAIL();
	}
	if (!js_eval_scalar_kw(c, s, in, t, ip, kp))
		JS_FAIL();
	if (t == JS_ARRAY && !js_eval_array(c, s, in, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (t == JS_OBJECT && !js_eval_object(c, s, in, idepth, ip, kp, a, depth))
		JS_FAIL();
	if ((s->n_all || s->n_any || s->n_one || s->not_ || s->if_) &&
		!js_eval_logic(c, s, in, t, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (have_local && !js_eval_unevaluated(c, s, in, t, idepth, ip, kp, a, depth))
		JS_FAIL();
done:
	if (have_local)
	{
		if (valid && out)
			js_ann_merge(out, &local);
		js_arena_release(&c->scratch, mk);
	}
	if (pushed)
		c->dyn = ds.up;
	return valid && !c->limit;
}

/* free a validation result */
void
js_result_free(js_result *r)
{
	js_result_priv *rp;
	js_allocator al;

	if (!r)
		return;
	rp = r->priv_;
	al = rp->arena.al;
	js_afree(&al, r->errors);
	js_arena_destroy(&rp->arena);
	js_afree(&al, rp);
	js_afree(&al, r);
}

/* shared driver for js_validate / js_is_valid */
static int
run(const js_compiled *cs, const js_accessor *acc, js_node instance, int collect,
	js_result *res, js_result_priv *rp, int *valid)
{
	js_vctx		c;

	memset(&c, 0, sizeof c);
	c.cs = cs;
	c.acc = acc;
	c.collect = collect;
	c.quiet = collect ? 0 : 1;
	c.res = res;
	c.rp = rp;
	js_arena_init(&c.scratch, &cs->al);
	*valid = js_eval(&c, cs->root, instance, 0, NULL, NULL, NULL, 0);
	if (c.limit)
		*valid = 0;
	js_regex_mdata_free(c.mdata);
	js_arena_destroy(&c.scratch);
	if (res)
		res->limit_exceeded = c.limit;
	return c.oom ? JS_ENOMEM : JS_OK;
}

/* validate an instance; see jsonschema.h */
int
js_validate(const js_compiled *cs, const js_accessor *acc, js_node instance,
			js_mode mode, js_result **out)
{
	const js_allocator *al;
	js_result  *r;
	js_result_priv *rp;
	int			rc,
				valid;

	if (!cs || !acc || !out)
		return JS_EINVAL;
	*out = NULL;
	al = &cs->al;
	r = js_amalloc(al, sizeof(js_result));
	rp = js_amalloc(al, sizeof(js_result_priv));
	if (!r || !rp)
	{
		js_afree(al, r);
		js_afree(al, rp);
		return JS_ENOMEM;
	}
	memset(r, 0, sizeof *r);
	memset(rp, 0, sizeof *rp);
	js_arena_init(&rp->arena, al);
	r->priv_ = rp;
	rc = run(cs, acc, instance, mode == JS_MODE_COLLECT, r, rp, &valid);
	if (rc != JS_OK)
	{
		js_result_free(r);
		return rc;
	}
	r->valid = valid;
	*out = r;
	return JS_OK;
}

/* fast validity check without an error list */
int
js_is_valid(const js_compiled *cs, const js_accessor *acc, js_node instance)
{
	int			valid,
				rc;

	if (!cs || !acc)
		return JS_EINVAL;
	rc = run(cs, acc, instance, 0, NULL, NULL, &valid);
	return rc == JS_OK ? valid : rc;
}
