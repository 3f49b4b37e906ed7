/*
 * js_validate.c - evaluate an instance against a compiled schema: the
 * public entry points (js_validate, js_is_valid, js_result_free) and
 * js_eval, which dispatches one schema node to the keyword evaluators and
 * keeps the dynamic scope for $dynamicRef and the $ref-loop / depth limits.
 * Keyword families live in js_validate_scalar.c, js_validate_array.c,
 * js_validate_object.c and js_validate_logic.c, unevaluated* tracking in
 * js_validate_uneval.c and error collection in js_validate_errors.c.
 */
#include "js_internal.h"

#include <string.h>

/* evaluate a subschema in "quiet" mode (errors dropped, stop at failure) */
int
js_eval_quiet(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	int			ok;

	c->quiet++;
	ok = js_eval_child(c, s, in, idepth, ip, kp, out, depth);
	c->quiet--;
	return ok && !c->stop;
}

/* a leaf schema (see js_eval_child): its scalar keywords only */
JS_NOINLINE int
js_eval_leaf(js_vctx *c, const js_schema *s, js_node in, const js_seg *ip, const js_seg *kp)
{
	return js_eval_scalar_kw(c, s, in, c->acc->type(c->acc->ctx, in), ip, kp) && !c->limit;
}

/* is target already being evaluated at this instance location? (a loop) */
static int
ref_loops(js_vctx *c, const js_schema *target, size_t idepth, const js_seg *ip,
		  const js_seg *kp)
{
	for (const js_rframe *r = c->refs; r && r->idepth == idepth; r = r->up)
		if (r->target == target)
		{
			js_limit_error(c, ip, kp, JS_LIMIT_LOOP,
						   "reference loop: schema re-entered without consuming the instance");
			return 1;
		}
	return 0;
}

/* follow a reference with loop detection */
static int
eval_ref(js_vctx *c, const js_schema *target, js_node in, size_t idepth,
		 const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	js_rframe	f;
	int			ok;

	if (ref_loops(c, target, idepth, ip, kp))
		return 0;
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

/* $ref (beside other keywords) and $dynamicRef, with their keyword segments */
static JS_NOINLINE int
eval_refs(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
		  const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	int			valid = 1;

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
	return valid;
}

/* in js_eval a failure jumps to the cleanup at "done" instead of returning */
#undef JS_FAIL
#define JS_FAIL() do { valid = 0; if (c->quiet || c->stop) goto done; } while (0)

/*
 * Evaluate instance 'in' against schema s; 1 valid, 0 invalid.  This is the
 * recursion of the validator, so its frame is kept small: one level of
 * instance nesting costs a js_eval and an applicator frame, and a schema
 * that is only a $ref (the usual "items": {"$ref": ...}) is followed within
 * this frame instead of through eval_ref and a second js_eval.
 */
int
js_eval(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
		const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	const js_accessor *acc = c->acc;
	js_dscope	ds;
	int			pushed = 0;
	int			valid = 1;
	int			have_local = 0;
	int			hopped = 0;
	js_mark		mk = {NULL, 0};
	js_ann		local;
	js_ann	   *a = out;
	js_type		t;
	js_rframe	f;
	js_seg		rk;

again:
	if (c->stop)
	{
		valid = 0;
		goto out;
	}
	if (!s || s->kind == JS_SK_TRUE || s->noop)
		goto out;
	if (s->kind == JS_SK_FALSE)
	{
		js_report(c, ip, kp, "no value is allowed here (false schema)");
		valid = 0;
		goto out;
	}
	if (depth > c->cs->max_eval_depth)
	{
		js_limit_error(c, ip, kp, JS_LIMIT_DEPTH, "evaluation depth exceeds limit (%d)",
					   c->cs->max_eval_depth);
		valid = 0;
		goto out;
	}
	if (idepth > (size_t) c->cs->max_instance_depth)
	{
		js_limit_error(c, ip, kp, JS_LIMIT_DEPTH, "instance nesting exceeds depth limit (%d)",
					   c->cs->max_instance_depth);
		valid = 0;
		goto out;
	}
	/* the depth limits are generous; the stack budget is the real guard */
	if (js_stack_over(&c->stack))
	{
		js_limit_error(c, ip, kp, JS_LIMIT_DEPTH,
					   "nesting too deep for the validator's stack (instance depth %zu)", idepth);
		valid = 0;
		goto out;
	}
	/* a bare $ref in the current dynamic scope: follow it here (once per frame) */
	if (s->ref_only && s->ref && !hopped && c->dyn && c->dyn->res == s->res)
	{
		rk.up = kp;
		rk.s = "$ref";
		rk.len = 4;
		rk.idx = 0;
		if (ref_loops(c, s->ref, idepth, ip, &rk))
		{
			valid = 0;
			goto out;
		}
		f.up = c->refs;
		f.target = s->ref;
		f.idepth = idepth;
		c->refs = &f;
		hopped = 1;
		kp = &rk;
		s = s->ref;
		depth++;
		goto again;
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
	if ((s->ref || s->dynref) && !eval_refs(c, s, in, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (((s->flags & JS_F_SCALAR) || s->pattern) && !js_eval_scalar_kw(c, s, in, t, ip, kp))
		JS_FAIL();
	if (t == JS_ARRAY && (s->n_prefix || s->items) &&
		!js_eval_items(c, s, in, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (t == JS_ARRAY && (s->contains || (s->flags & (JS_F_MINITEMS | JS_F_MAXITEMS | JS_F_UNIQUE))) &&
		!js_eval_array(c, s, in, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (t == JS_OBJECT && (s->n_props || s->n_pprops || s->addl_props || s->prop_names) &&
		!js_eval_members(c, s, in, idepth, ip, kp, a, depth))
		JS_FAIL();
	if (t == JS_OBJECT && ((s->flags & (JS_F_MINPROPS | JS_F_MAXPROPS)) || s->required.n ||
						   s->n_dep_req || s->n_dep_schemas) &&
		!js_eval_object(c, s, in, idepth, ip, kp, a, depth))
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
out:
	if (hopped)
		c->refs = f.up;
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
	js_result *res, js_result_priv *rp, js_outcome *outcome)
{
	js_vctx		c;
	int			valid;

	memset(&c, 0, sizeof c);
	c.cs = cs;
	c.acc = acc;
	c.collect = collect;
	c.quiet = collect ? 0 : 1;
	c.res = res;
	c.rp = rp;
	c.stack.base = (uintptr_t) &c;
	c.stack.max = cs->max_stack_bytes;
	c.stack.too_deep = cs->stack_too_deep;
	c.stack.ctx = cs->stack_ctx;
	js_arena_init(&c.scratch, &cs->al);
	valid = js_eval(&c, cs->root, instance, 0, NULL, NULL, NULL, 0);
	/* a limit leaves the question open: never folded into "invalid" */
	*outcome = c.limit ? JS_LIMIT_REACHED : valid ? JS_VALID : JS_INVALID;
	js_regex_mdata_free(c.mdata);
	js_arena_destroy(&c.scratch);
	if (res)
		res->limit = c.limit;
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
	int			rc;
	js_outcome	outcome;

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
	rc = run(cs, acc, instance, mode == JS_MODE_COLLECT, r, rp, &outcome);
	if (rc != JS_OK)
	{
		js_result_free(r);
		return rc;
	}
	r->outcome = outcome;
	*out = r;
	return JS_OK;
}

/* fast validity check without an error list */
int
js_is_valid(const js_compiled *cs, const js_accessor *acc, js_node instance)
{
	js_outcome	outcome;
	int			rc;

	if (!cs || !acc)
		return JS_EINVAL;
	rc = run(cs, acc, instance, 0, NULL, NULL, &outcome);
	return rc == JS_OK ? (int) outcome : rc;
}
