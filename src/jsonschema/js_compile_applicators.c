/*
 * js_compile_applicators.c - compile the applicator keywords (allOf, anyOf,
 * oneOf, not, if/then/else, properties, patternProperties,
 * additionalProperties, propertyNames, contains, prefixItems / items /
 * additionalItems, dependentSchemas and draft-04..07 dependencies) into
 * the subschema links of a js_schema, as the resource's draft has them.
 */
#include "js_internal.h"

/* compile the applicator keywords of object schema v into s */
void
js_compile_applicators(js_cctx *cc, js_schema *s, const js_val *v, const js_scope *sc,
					   const js_seg *path, int depth)
{
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};

	if (JS_KW("allOf"))
		js_sub_array(cc, kv, sc, &seg, depth, &s->all_of, &s->n_all);
	if (JS_KW("anyOf"))
		js_sub_array(cc, kv, sc, &seg, depth, &s->any_of, &s->n_any);
	if (JS_KW("oneOf"))
		js_sub_array(cc, kv, sc, &seg, depth, &s->one_of, &s->n_one);
	if (JS_KW("not"))
		s->not_ = js_sub(cc, kv, sc, &seg, depth);
	/* if/then/else came with draft-07; draft-04 ignores them as unknown */
	if (sc->draft >= JS_D7 && JS_KW("if"))
		s->if_ = js_sub(cc, kv, sc, &seg, depth);
	if (sc->draft >= JS_D7 && JS_KW("then"))
	{
		js_schema  *t = js_sub(cc, kv, sc, &seg, depth);

		if (s->if_)
			s->then_ = t;
	}
	if (sc->draft >= JS_D7 && JS_KW("else"))
	{
		js_schema  *t = js_sub(cc, kv, sc, &seg, depth);

		if (s->if_)
			s->else_ = t;
	}
	if (JS_KW("properties"))
		s->props = js_sub_object(cc, kv, sc, &seg, depth, &s->n_props, 1);
	if (JS_KW("patternProperties"))
	{
		if (kv->type != JS_OBJECT)
			js_schema_problem(cc, sc, &seg, "value must be an object of schemas");
		else
		{
			s->pprops = js_arena_alloc(cc->a, (kv->n ? kv->n : 1) * sizeof(js_patprop));
			if (!s->pprops)
			{
				cc->oom = 1;
				return;
			}
			for (size_t i = 0; i < kv->n; i++)
			{
				js_seg		ks = {&seg, kv->u.members[i].key, kv->u.members[i].klen, 0};
				js_patprop *pp = &s->pprops[s->n_pprops];

				pp->src = kv->u.members[i].key;
				pp->srclen = kv->u.members[i].klen;
				pp->re = js_schema_regex(cc, pp->src, pp->srclen, sc, &ks);
				pp->s = js_sub(cc, kv->u.members[i].val, sc, &ks, depth);
				if (pp->re)
					s->n_pprops++;
			}
		}
	}
	if (JS_KW("additionalProperties"))
		s->addl_props = js_sub(cc, kv, sc, &seg, depth);
	/* propertyNames and contains came with draft-06 */
	if (sc->draft >= JS_D6 && JS_KW("propertyNames"))
		s->prop_names = js_sub(cc, kv, sc, &seg, depth);
	if (sc->draft >= JS_D6 && JS_KW("contains"))
		s->contains = js_sub(cc, kv, sc, &seg, depth);
	if (sc->draft == JS_D20)
	{
		if (JS_KW("prefixItems"))
		{
			js_sub_array(cc, kv, sc, &seg, depth, &s->prefix, &s->n_prefix);
			s->prefix_kw = "prefixItems";
		}
		if (JS_KW("items"))
		{
			s->items = js_sub(cc, kv, sc, &seg, depth);
			s->items_kw = "items";
		}
		if (JS_KW("dependentSchemas"))
		{
			s->dep_schemas = js_sub_object(cc, kv, sc, &seg, depth, &s->n_dep_schemas, 0);
			s->dep_kw = "dependentSchemas";
		}
	}
	else
	{
		const js_val *items = js_val_get(v, "items", 5);

		if (JS_KW("items"))
		{
			if (kv->type == JS_ARRAY)
			{
				s->prefix_kw = "items";
				if (kv->n > 0)
					js_sub_array(cc, kv, sc, &seg, depth, &s->prefix, &s->n_prefix);
			}
			else
			{
				s->items = js_sub(cc, kv, sc, &seg, depth);
				s->items_kw = "items";
			}
		}
		if (JS_KW("additionalItems"))
		{
			js_schema  *t = js_sub(cc, kv, sc, &seg, depth);

			if (items && items->type == JS_ARRAY)
			{
				s->items = t;
				s->items_kw = "additionalItems";
			}
		}
		if (sc->draft == JS_D19 && JS_KW("dependentSchemas"))
		{
			s->dep_schemas = js_sub_object(cc, kv, sc, &seg, depth, &s->n_dep_schemas, 0);
			s->dep_kw = "dependentSchemas";
		}
		/* 2019-09 split "dependencies" into dependentSchemas / dependentRequired */
		if (JS_DRAFT_OLD(sc->draft) && JS_KW("dependencies"))
		{
			if (kv->type != JS_OBJECT)
				js_schema_problem(cc, sc, &seg, "value must be an object");
			else
			{
				s->dep_schemas = js_arena_alloc(cc->a, (kv->n ? kv->n : 1) * sizeof(js_named));
				s->dep_req = js_arena_alloc(cc->a, (kv->n ? kv->n : 1) * sizeof(js_depreq));
				if (!s->dep_schemas || !s->dep_req)
				{
					cc->oom = 1;
					return;
				}
				s->dep_kw = s->depreq_kw = "dependencies";
				for (size_t i = 0; i < kv->n; i++)
				{
					const js_member *m = &kv->u.members[i];
					js_seg		ks = {&seg, m->key, m->klen, 0};

					if (m->val->type == JS_ARRAY)
					{
						js_depreq  *d = &s->dep_req[s->n_dep_req];

						d->name = m->key;
						d->len = m->klen;
						if (js_get_strlist(cc, m->val, sc, &ks, &d->req))
							s->n_dep_req++;
					}
					else
					{
						js_named   *d = &s->dep_schemas[s->n_dep_schemas++];

						d->name = m->key;
						d->len = m->klen;
						d->s = js_sub(cc, m->val, sc, &ks, depth);
					}
				}
			}
		}
	}
}
