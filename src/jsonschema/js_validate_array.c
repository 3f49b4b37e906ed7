/*
 * js_validate_array.c - array keywords: minItems, maxItems, uniqueItems
 * (by hashing), prefixItems / items (draft 7: items / additionalItems) and
 * contains with minContains / maxContains, marking evaluated items.  The
 * items step is its own function, called from js_eval, so that nesting
 * costs as little C stack as possible.
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
		h[i].h = js_value_hash(acc, e, c->cs->max_instance_depth, &c->stack);
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
			r = js_equal(acc, a, acc, b, c->cs->max_instance_depth, &c->stack);
			if (r != 0)
				res = r < 0 ? -1 : 0;
		}
	js_arena_release(&c->scratch, mk);
	return res;
}

/* minItems, maxItems, uniqueItems: no recursion, kept off the recursive path */
static JS_NOINLINE int
eval_counts(js_vctx *c, const js_schema *s, js_node in, size_t n, const js_seg *ip,
			const js_seg *kp)
{
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
			js_limit_error(c, ip, &k, JS_LIMIT_DEPTH, "value nesting too deep to compare");
			return 0;
		}
		if (r == 0)
		{
			js_report(c, ip, &k, "array items are not unique");
			JS_FAIL();
		}
	}
	return valid;
}

/* prefixItems (draft 7: items as an array): the first items, each its own schema */
static JS_NOINLINE int
eval_prefix(js_vctx *c, const js_schema *s, js_node in, size_t n, size_t idepth,
			const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	js_seg		pk = {kp, s->prefix_kw, s->prefix_kw ? strlen(s->prefix_kw) : 0, 0};
	js_seg		ks = {&pk, NULL, 0, 0};
	js_seg		is = {ip, NULL, 0, 0};
	int			valid = 1;

	for (size_t i = 0; i < n && i < s->n_prefix; i++)
	{
		js_node		e;

		is.idx = ks.idx = i;
		c->acc->array_get(c->acc->ctx, in, i, &e);
		if (!js_eval_child(c, s->prefix[i], e, idepth + 1, &is, &ks, NULL, depth + 1))
			JS_FAIL();
		js_ann_set(a, i);
	}
	return valid;
}

/*
 * prefixItems / items: the recursive step for arrays, called straight from
 * js_eval with few locals, since every level of array nesting pays for it.
 */
JS_NOINLINE int
js_eval_items(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	size_t		n = c->acc->array_size(c->acc->ctx, in);
	js_seg		ik = {kp, s->items_kw, s->items_kw ? strlen(s->items_kw) : 0, 0};
	js_seg		is = {ip, NULL, 0, 0};
	int			valid = 1;

	if (s->n_prefix && !eval_prefix(c, s, in, n, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (!s->items)
		return valid;
	for (size_t i = s->n_prefix; i < n; i++)
	{
		js_node		e;

		is.idx = i;
		c->acc->array_get(c->acc->ctx, in, i, &e);
		if (!js_eval(c, s->items, e, idepth + 1, &is, &ik, NULL, depth + 1))
			JS_FAIL();
	}
	if (a)
		a->all = 1;
	return valid;
}

/* contains with minContains / maxContains */
static JS_NOINLINE int
eval_contains(js_vctx *c, const js_schema *s, js_node in, size_t n, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	const js_accessor *acc = c->acc;
	int			valid = 1;
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
	return valid;
}

/* the other array keywords: minItems, maxItems, uniqueItems, contains */
JS_NOINLINE int
js_eval_array(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	size_t		n = c->acc->array_size(c->acc->ctx, in);
	int			valid = 1;

	if ((s->flags & (JS_F_MINITEMS | JS_F_MAXITEMS | JS_F_UNIQUE)) &&
		!eval_counts(c, s, in, n, ip, kp))
	{
		if (c->limit || c->oom)
			return 0;
		JS_FAIL();
	}
	if (s->contains && !eval_contains(c, s, in, n, idepth, ip, kp, a, depth))
		JS_FAIL();
	return valid;
}
