/*
 * js_validate_logic.c - the combinators allOf, anyOf, oneOf, not and
 * if / then / else, with annotations kept only from branches that pass.
 */
#include "js_internal.h"

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

/* the type bit of an instance type, as in a schema's "type" */
static inline unsigned
type_bit(js_type t)
{
	return t == JS_NULL ? JS_T_NULL : t == JS_BOOL ? JS_T_BOOL :
		t == JS_NUMBER ? JS_T_NUMBER | JS_T_INTEGER : t == JS_STRING ? JS_T_STRING :
		t == JS_ARRAY ? JS_T_ARRAY : JS_T_OBJECT;
}

/*
 * A branch of anyOf/oneOf whose "type" excludes the instance's type fails
 * whatever its other keywords say: it is skipped without evaluating it
 * (its errors are dropped anyway).  Integers count as numbers here; the
 * branch itself tells them apart.
 */
static inline int
type_excludes(const js_schema *b, unsigned bit)
{
	return b && b->kind == JS_SK_OBJ && (b->flags & JS_F_TYPE) && !(b->types & bit);
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

			if (!js_eval_child(c, s->all_of[i], in, idepth, ip, &ks, a, depth + 1))
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

			if (type_excludes(s->any_of[i], type_bit(t)))
				continue;
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

			if (type_excludes(s->one_of[i], type_bit(t)))
				continue;
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
