/*
 * js_compile.c - compile a schema document into js_schema nodes: the public
 * entry points (js_compile, js_check, options, freeing), the walk over
 * schema nodes (js_compile_schema) and the helpers that compile subschemas.
 * Keyword groups live in js_compile_applicators.c and
 * js_compile_assertions.c, "$schema" in js_compile_dialect.c, $id / $anchor
 * / $ref in js_compile_refs.c and problem reporting in js_compile_problems.c.
 */
#include "js_internal.h"

#include <stdlib.h>
#include <string.h>

/* allocate a zeroed schema node */
static js_schema *
new_schema(js_cctx *cc, int kind, const js_scope *sc)
{
	js_schema  *s = js_arena_zalloc(cc->a, sizeof(js_schema));

	if (!s)
	{
		cc->oom = 1;
		return NULL;
	}
	s->kind = (uint8_t) kind;
	s->draft = (uint8_t) sc->draft;
	s->res = sc->res;
	return s;
}

/* true if v is a string value (NULL: no) */
static int
is_string(const js_val *v)
{
	return v && v->type == JS_STRING;
}

/* a shared "true" schema used after problems */
static js_schema *
placeholder(js_cctx *cc, const js_scope *sc)
{
	return new_schema(cc, JS_SK_TRUE, sc);
}

/* compile child schema v under keyword path */
js_schema *
js_sub(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path, int depth)
{
	return js_compile_schema(cc, v, *sc, 0, path, depth + 1);
}

/* compile an array of schemas for keyword kw */
void
js_sub_array(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path,
			 int depth, js_schema ***out, size_t *n)
{
	if (v->type != JS_ARRAY || v->n == 0)
	{
		js_schema_problem(cc, sc, path, "value must be a non-empty array of schemas");
		return;
	}
	*out = js_arena_alloc(cc->a, v->n * sizeof(js_schema *));
	if (!*out)
	{
		cc->oom = 1;
		return;
	}
	for (size_t i = 0; i < v->n; i++)
	{
		js_seg		seg = {path, NULL, 0, i};

		(*out)[i] = js_sub(cc, v->u.items[i], sc, &seg, depth);
	}
	*n = v->n;
}

/* does the schema have no keyword but $ref? (its $ref is still pending) */
static int
only_ref(const js_schema *s)
{
	return s->flags == 0 && !s->dyn_name && !s->pattern && s->required.n == 0 &&
		s->n_dep_req == 0 && s->n_all == 0 && s->n_any == 0 && s->n_one == 0 &&
		!s->not_ && !s->if_ && !s->then_ && !s->else_ && s->n_prefix == 0 && !s->items &&
		!s->contains && s->n_props == 0 && s->n_pprops == 0 && !s->addl_props &&
		!s->prop_names && !s->uneval_props && !s->uneval_items && s->n_dep_schemas == 0;
}

/* order js_named entries by (length, bytes) */
static int
named_cmp(const void *a, const void *b)
{
	const js_named *x = a,
			   *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->name, y->name, x->len);
}

/* compile an object of schemas (properties, dependentSchemas, $defs) */
js_named *
js_sub_object(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path,
			  int depth, size_t *n, int sort)
{
	js_named   *out;

	if (v->type != JS_OBJECT)
	{
		js_schema_problem(cc, sc, path, "value must be an object of schemas");
		return NULL;
	}
	out = js_arena_alloc(cc->a, (v->n ? v->n : 1) * sizeof(js_named));
	if (!out)
	{
		cc->oom = 1;
		return NULL;
	}
	for (size_t i = 0; i < v->n; i++)
	{
		js_seg		seg = {path, v->u.members[i].key, v->u.members[i].klen, 0};

		out[i].name = v->u.members[i].key;
		out[i].len = v->u.members[i].klen;
		out[i].s = js_sub(cc, v->u.members[i].val, sc, &seg, depth);
	}
	*n = v->n;
	if (sort && v->n > 1)
		qsort(out, v->n, sizeof(js_named), named_cmp);
	return out;
}

/* compile one schema node (boolean or object) with lexical scope sc */
js_schema *
js_compile_schema(js_cctx *cc, const js_val *v, js_scope sc, int docroot,
				  const js_seg *path, int depth)
{
	js_schema  *s;
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};
	size_t		ndefs = 0;

	if (cc->oom)
		return NULL;
	if (v->compiled)
		return v->compiled;
	if (v->type == JS_BOOL)
	{
		if (docroot)
			js_register_resource(cc, sc.base, v, &sc);
		s = new_schema(cc, v->u.b ? JS_SK_TRUE : JS_SK_FALSE, &sc);
		((js_val *) v)->compiled = s;
		return s;
	}
	if (v->type != JS_OBJECT)
	{
		js_schema_problem(cc, &sc, path, "schema must be an object or a boolean");
		return placeholder(cc, &sc);
	}
	if (depth > cc->opt->max_schema_depth)
	{
		js_schema_problem(cc, &sc, path, "schema nesting exceeds depth limit (%d)",
						  cc->opt->max_schema_depth);
		return placeholder(cc, &sc);
	}
	s = new_schema(cc, JS_SK_OBJ, &sc);
	if (!s)
		return NULL;
	((js_val *) v)->compiled = s;

	/*
	 * dialect: "$schema" at a resource root (draft-04 names a resource with
	 * "id", so an embedded draft-04 resource is found by either spelling)
	 */
	if ((docroot || js_val_get(v, "$id", 3) || is_string(js_val_get(v, "id", 2))) &&
		(kv = js_val_get(v, "$schema", 7)) != NULL)
	{
		js_set_dialect(cc, &sc, kv, path);
		s->draft = (uint8_t) sc.draft;
	}
	js_compile_ids(cc, s, v, &sc, path, docroot);

	if (JS_DRAFT_OLD(sc.draft))
	{
		/* definitions are walked for identifiers in both drafts' layouts */
		if (JS_KW("definitions"))
			js_sub_object(cc, kv, &sc, &seg, depth, &ndefs, 0);
		if (JS_KW("$ref"))
		{
			/* up to draft-07: all siblings of $ref are ignored */
			js_compile_ref(cc, s, kv, &sc, &seg, JS_REF_STATIC);
			s->ref_only = 1;
			return s;
		}
	}
	else
	{
		if (JS_KW("$defs"))
			js_sub_object(cc, kv, &sc, &seg, depth, &ndefs, 0);
		if (JS_KW("$ref"))
			js_compile_ref(cc, s, kv, &sc, &seg, JS_REF_STATIC);
		if (sc.draft == JS_D20 && JS_KW("$dynamicRef"))
			js_compile_ref(cc, s, kv, &sc, &seg, JS_REF_DYNAMIC);
		if (sc.draft == JS_D19 && JS_KW("$recursiveRef"))
			js_compile_ref(cc, s, kv, &sc, &seg, JS_REF_RECURSIVE);
	}
	if (sc.vocab & JS_VOC_APPL)
		js_compile_applicators(cc, s, v, &sc, path, depth);
	if (sc.draft >= JS_D19 && (sc.vocab & JS_VOC_UNEV))
	{
		if (JS_KW("unevaluatedProperties"))
			s->uneval_props = js_sub(cc, kv, &sc, &seg, depth);
		if (JS_KW("unevaluatedItems"))
			s->uneval_items = js_sub(cc, kv, &sc, &seg, depth);
		if (s->uneval_props || s->uneval_items)
			s->flags |= JS_F_UNEVAL;
	}
	if (sc.vocab & JS_VOC_VALID)
		js_compile_validation(cc, s, v, &sc, path);
	if ((sc.vocab & (JS_VOC_FMT | JS_VOC_FMTA)) && JS_KW("format"))
	{
		if (kv->type != JS_STRING)
			js_schema_problem(cc, &sc, &seg, "value must be a string");
		else
		{
			s->format_name = kv->u.str;
			s->format = js_format_lookup_draft(kv->u.str, kv->n, sc.draft);
			s->format_assert = (cc->opt->format_assertion || (sc.vocab & JS_VOC_FMTA)) &&
				s->format != NULL;
			if (s->format)
				s->flags |= JS_F_FORMAT;
		}
	}
	/* a pending $dynamicRef is not in s yet; $recursiveRef sets dyn_name */
	s->ref_only = (uint8_t) (js_val_get(v, "$ref", 4) &&
							 !(sc.draft == JS_D20 && js_val_get(v, "$dynamicRef", 11)) &&
							 only_ref(s));
	/* annotations only (a "description", a "default"): the validator skips it like true */
	s->noop = (uint8_t) (!js_val_get(v, "$ref", 4) && !js_val_get(v, "$dynamicRef", 11) &&
						 only_ref(s));
	/* scalar keywords only: the validator checks it without a js_eval frame */
	{
		js_schema	probe = *s;

		probe.flags &= ~JS_F_SCALAR;
		probe.pattern = NULL;
		s->leaf = (uint8_t) (!s->noop && !js_val_get(v, "$ref", 4) &&
							 !js_val_get(v, "$dynamicRef", 11) && only_ref(&probe));
	}
	return s;
}

/* fill 'opt' with the defaults */
void
js_options_init(js_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->default_draft = JS_DRAFT_2020_12;
	opt->format_assertion = 0;
	opt->max_errors = 100;
	opt->max_instance_depth = 100000;
	opt->max_schema_depth = 512;
	opt->max_eval_depth = 400000;
	opt->max_stack_bytes = 2 * 1024 * 1024;
	opt->regex_match_limit = 1000000;
	opt->regex_depth_limit = 10000;
}

/* free a compiled schema */
void
js_compiled_free(js_compiled *cs)
{
	js_allocator al;

	if (!cs)
		return;
	al = cs->al;
	for (size_t i = 0; i < cs->nregex; i++)
		js_regex_destroy(cs->renv, cs->regexes[i]);
	js_afree(&al, cs->regexes);
	js_regex_env_free(cs->renv);
	js_arena_destroy(&cs->arena);
	js_afree(&al, cs);
}

/* compile a schema; see jsonschema.h */
int
js_compile(const js_accessor *acc, js_node schema, const js_options *optin,
		   js_compiled **out, js_problems **problems)
{
	js_options	opt;
	const js_allocator *al;
	js_compiled *cs;
	js_cctx		cc;
	js_val	   *root;
	const char *err = NULL;
	js_scope	sc;
	int			rc = JS_OK;

	if (out)
		*out = NULL;
	if (problems)
		*problems = NULL;
	if (!acc || !out)
		return JS_EINVAL;
	if (optin)
		opt = *optin;
	else
		js_options_init(&opt);
	if (opt.max_schema_depth <= 0)
		opt.max_schema_depth = 512;
	if (opt.max_instance_depth <= 0)
		opt.max_instance_depth = 100000;
	if (opt.max_eval_depth <= 0)
		opt.max_eval_depth = 400000;
	if (opt.max_stack_bytes == 0)
		opt.max_stack_bytes = 2 * 1024 * 1024;
	if (opt.max_errors == 0)
		opt.max_errors = 100;
	al = opt.allocator ? opt.allocator : &js_libc_allocator;

	cs = js_amalloc(al, sizeof(js_compiled));
	if (!cs)
		return JS_ENOMEM;
	memset(cs, 0, sizeof *cs);
	cs->al = *al;
	js_arena_init(&cs->arena, al);
	cs->max_errors = opt.max_errors;
	cs->max_instance_depth = opt.max_instance_depth;
	cs->max_eval_depth = opt.max_eval_depth;
	cs->max_stack_bytes = opt.max_stack_bytes;
	cs->stack_too_deep = opt.stack_too_deep;
	cs->stack_ctx = opt.stack_ctx;
	cs->renv = js_regex_env_new(&cs->al, opt.regex_match_limit, opt.regex_depth_limit);

	memset(&cc, 0, sizeof cc);
	cc.cs = cs;
	cc.a = &cs->arena;
	cc.opt = &opt;
	cc.pl = js_plist_new(al);
	js_hmap_init(&cc.resources, &cs->al);
	js_hmap_init(&cc.anchors, &cs->al);
	if (!cs->renv || !cc.pl)
	{
		rc = JS_ENOMEM;
		goto done;
	}

	sc.base = "";
	sc.prefix = "";
	sc.draft = js_draft_from_option(opt.default_draft);
	sc.vocab = JS_VOC_ALL;
	sc.res = js_new_resource(&cc, "");
	root = js_val_copy(&cs->arena, acc, schema, opt.max_schema_depth * 2 + 8, &err);
	if (!root)
	{
		if (cs->arena.oom)
			rc = JS_ENOMEM;
		else
			js_schema_problem(&cc, &sc, NULL, "%s", err ? err : "cannot read schema");
		goto done;
	}
	cs->root = js_compile_schema(&cc, root, sc, 1, NULL, 0);
	for (size_t i = 0; i < cc.npend && !cc.oom; i++)
	{
		js_pending	p = cc.pend[i];
		int			dyn;
		js_schema  *t = js_resolve(&cc, &p, &dyn);

		if (!t)
		{
			js_scope	ps = sc;

			ps.prefix = p.loc;
			if (!cc.oom)
				js_schema_problem(&cc, &ps, NULL, "cannot resolve reference \"%s\"", p.uri);
			continue;
		}
		*p.slot = t;
		if (p.dynamic != JS_REF_STATIC)
			p.owner->dyn_dynamic = dyn && p.owner->dyn_name != NULL;
	}
done:
	if (rc == JS_OK && (cc.oom || cs->arena.oom))
		rc = JS_ENOMEM;
	else if (rc == JS_OK && (cc.pl->n > 0 || !cs->root))
		rc = JS_EPROBLEMS;
	js_hmap_free(&cc.resources);
	js_hmap_free(&cc.anchors);
	js_afree(&cs->al, cc.pend);
	if (rc == JS_OK)
		*out = cs;
	else
		js_compiled_free(cs);
	if (cc.pl)
	{
		if (problems && rc != JS_ENOMEM)
		{
			*problems = js_plist_publish(cc.pl);
			if (!*problems)
			{
				js_plist_free(cc.pl);
				if (rc == JS_OK)
				{
					js_compiled_free(*out);
					*out = NULL;
				}
				rc = JS_ENOMEM;
			}
		}
		else
			js_plist_free(cc.pl);
	}
	return rc;
}

/* report the problems of a schema without keeping the compiled form */
int
js_check(const js_accessor *acc, js_node schema, const js_options *opt,
		 js_problems **problems)
{
	js_compiled *cs = NULL;
	int			rc;

	if (!problems)
		return JS_EINVAL;
	rc = js_compile(acc, schema, opt, &cs, problems);
	js_compiled_free(cs);
	return rc == JS_EPROBLEMS ? JS_OK : rc;
}
