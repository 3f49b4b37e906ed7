/*
 * js_validate_array.c - array keywords: minItems, maxItems, uniqueItems
 * (by hashing), prefixItems / items (draft 7: items / additionalItems) and
 * contains with minContains / maxContains, marking evaluated items.
 */
#include "js_internal.h"

#include <stdlib.h>
#include <string.h>

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
