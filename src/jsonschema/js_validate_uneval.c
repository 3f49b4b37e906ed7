/*
 * js_validate_uneval.c - annotation tracking for unevaluatedItems and
 * unevaluatedProperties: the per-instance sets of evaluated items / members
 * (js_ann) and the evaluation of whatever no other keyword has evaluated.
 */
#include "js_internal.h"

#include <string.h>

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
