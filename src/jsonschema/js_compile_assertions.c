/*
 * js_compile_assertions.c - compile the validation vocabulary (type, const,
 * enum, numeric and length bounds, pattern, item / property counts,
 * required, dependentRequired) and the keyword-value readers it shares with
 * the applicators (string lists, regexes).
 */
#include "js_internal.h"

/* read a non-negative integer keyword value */
static int
get_count(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path, size_t *out)
{
	if (v->type != JS_NUMBER || !v->is_int || v->u.num < 0)
	{
		js_schema_problem(cc, sc, path, "value must be a non-negative integer");
		return 0;
	}
	*out = v->u.num > 1e18 ? (size_t) -1 : (size_t) v->u.num;
	return 1;
}

/* read a number keyword value as an exact decimal (it points into v's text) */
static int
get_num(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path, js_dec *out)
{
	if (v->type != JS_NUMBER || !v->numtext || !js_dec_parse(v->numtext, v->numtext_len, out))
	{
		js_schema_problem(cc, sc, path, "value must be a number");
		return 0;
	}
	return 1;
}

/* read an array of unique strings (required, dependentRequired) */
int
js_get_strlist(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path, js_strlist *out)
{
	if (v->type != JS_ARRAY)
	{
		js_schema_problem(cc, sc, path, "value must be an array of strings");
		return 0;
	}
	out->s = js_arena_alloc(cc->a, (v->n ? v->n : 1) * sizeof(char *));
	out->len = js_arena_alloc(cc->a, (v->n ? v->n : 1) * sizeof(size_t));
	if (!out->s || !out->len)
	{
		cc->oom = 1;
		return 0;
	}
	for (size_t i = 0; i < v->n; i++)
	{
		if (v->u.items[i]->type != JS_STRING)
		{
			js_seg		seg = {path, NULL, 0, i};

			js_schema_problem(cc, sc, &seg, "value must be a string");
			return 0;
		}
		out->s[i] = v->u.items[i]->u.str;
		out->len[i] = v->u.items[i]->n;
	}
	out->n = v->n;
	return 1;
}

/*
 * The required names once more, ordered by length, then bytes (jsonb's key
 * order), so the validator can find them all in one pass over the members.
 */
static void
sort_required(js_cctx *cc, js_schema *s)
{
	size_t		n = s->required.n;
	js_strlist *o = &s->required_sorted;

	o->s = js_arena_alloc(cc->a, n * sizeof(char *));
	o->len = js_arena_alloc(cc->a, n * sizeof(size_t));
	if (!o->s || !o->len)
	{
		cc->oom = 1;
		return;
	}
	/* insertion sort: required lists are short */
	for (size_t i = 0; i < n; i++)
	{
		const char *str = s->required.s[i];
		size_t		len = s->required.len[i],
					j = i;

		while (j > 0 && (o->len[j - 1] > len ||
						 (o->len[j - 1] == len && memcmp(o->s[j - 1], str, len) > 0)))
		{
			o->s[j] = o->s[j - 1];
			o->len[j] = o->len[j - 1];
			j--;
		}
		o->s[j] = str;
		o->len[j] = len;
	}
	o->n = n;
}

/* compile a regex and remember it for freeing */
js_regex *
js_schema_regex(js_cctx *cc, const char *pat, size_t len, const js_scope *sc, const js_seg *path)
{
	char		err[256];
	js_regex   *re;
	js_compiled *cs = cc->cs;

	re = js_regex_compile(cs->renv, pat, len, err, sizeof err);
	if (!re)
	{
		js_schema_problem(cc, sc, path, "%s", err);
		return NULL;
	}
	if (cs->nregex == cs->capregex)
	{
		size_t		nc = cs->capregex ? cs->capregex * 2 : 8;
		js_regex  **nr = js_arealloc(&cs->al, cs->regexes, nc * sizeof(js_regex *));

		if (!nr)
		{
			js_regex_destroy(cs->renv, re);
			cc->oom = 1;
			return NULL;
		}
		cs->regexes = nr;
		cs->capregex = nc;
	}
	cs->regexes[cs->nregex++] = re;
	return re;
}

/* parse "type": string or array of type names */
static void
compile_type(js_cctx *cc, js_schema *s, const js_val *v, const js_scope *sc, const js_seg *path)
{
	static const char *names[] = {"null", "boolean", "number", "string", "array", "object", "integer"};
	size_t		n = v->type == JS_ARRAY ? v->n : 1;

	if (v->type != JS_STRING && v->type != JS_ARRAY)
	{
		js_schema_problem(cc, sc, path, "value must be a type name or an array of type names");
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		const js_val *t = v->type == JS_ARRAY ? v->u.items[i] : v;
		int			k;

		for (k = 0; k < 7; k++)
			if (t->type == JS_STRING && js_streq(t->u.str, t->n, names[k]))
				break;
		if (k == 7)
		{
			js_schema_problem(cc, sc, path, "invalid type name");
			return;
		}
		s->types |= 1u << k;
	}
	s->flags |= JS_F_TYPE;
}

/*
 * draft-04: exclusiveMinimum / exclusiveMaximum are booleans that make
 * minimum / maximum exclusive; turn the bound into the later drafts' form
 */
static void
draft4_exclusive(js_cctx *cc, js_schema *s, const js_val *v, const js_scope *sc,
				 const js_seg *path)
{
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};

	if (JS_KW("exclusiveMinimum"))
	{
		if (kv->type != JS_BOOL)
			js_schema_problem(cc, sc, &seg, "value must be a boolean (draft-04)");
		else if (kv->u.b && (s->flags & JS_F_MIN))
		{
			s->xminimum = s->minimum;
			s->flags = (s->flags & ~JS_F_MIN) | JS_F_XMIN;
		}
	}
	if (JS_KW("exclusiveMaximum"))
	{
		if (kv->type != JS_BOOL)
			js_schema_problem(cc, sc, &seg, "value must be a boolean (draft-04)");
		else if (kv->u.b && (s->flags & JS_F_MAX))
		{
			s->xmaximum = s->maximum;
			s->flags = (s->flags & ~JS_F_MAX) | JS_F_XMAX;
		}
	}
}

/* compile the validation-vocabulary keywords of v into s */
void
js_compile_validation(js_cctx *cc, js_schema *s, const js_val *v, const js_scope *sc,
					  const js_seg *path)
{
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};

	if (JS_KW("type"))
		compile_type(cc, s, kv, sc, &seg);
	/* const came with draft-06 */
	if (sc->draft >= JS_D6 && JS_KW("const"))
	{
		s->const_v = kv;
		s->flags |= JS_F_CONST;
	}
	if (JS_KW("enum"))
	{
		if (kv->type != JS_ARRAY)
			js_schema_problem(cc, sc, &seg, "value must be an array");
		else
		{
			s->enum_v = (const js_val **) kv->u.items;
			s->nenum = kv->n;
			s->flags |= JS_F_ENUM;
		}
	}
	if (JS_KW("multipleOf") && get_num(cc, kv, sc, &seg, &s->multiple_of))
	{
		if (s->multiple_of.neg || s->multiple_of.alen + s->multiple_of.blen == 0)
			js_schema_problem(cc, sc, &seg, "value must be strictly greater than 0");
		else
			s->flags |= JS_F_MULT;
	}
	if (JS_KW("minimum") && get_num(cc, kv, sc, &seg, &s->minimum))
		s->flags |= JS_F_MIN;
	if (JS_KW("maximum") && get_num(cc, kv, sc, &seg, &s->maximum))
		s->flags |= JS_F_MAX;
	if (sc->draft == JS_D4)
		draft4_exclusive(cc, s, v, sc, path);
	else
	{
		if (JS_KW("exclusiveMinimum") && get_num(cc, kv, sc, &seg, &s->xminimum))
			s->flags |= JS_F_XMIN;
		if (JS_KW("exclusiveMaximum") && get_num(cc, kv, sc, &seg, &s->xmaximum))
			s->flags |= JS_F_XMAX;
	}
	if (JS_KW("minLength") && get_count(cc, kv, sc, &seg, &s->min_length))
		s->flags |= JS_F_MINLEN;
	if (JS_KW("maxLength") && get_count(cc, kv, sc, &seg, &s->max_length))
		s->flags |= JS_F_MAXLEN;
	if (JS_KW("pattern"))
	{
		if (kv->type != JS_STRING)
			js_schema_problem(cc, sc, &seg, "value must be a string");
		else
		{
			s->pattern = js_schema_regex(cc, kv->u.str, kv->n, sc, &seg);
			s->pattern_src = kv->u.str;
		}
	}
	if (JS_KW("minItems") && get_count(cc, kv, sc, &seg, &s->min_items))
		s->flags |= JS_F_MINITEMS;
	if (JS_KW("maxItems") && get_count(cc, kv, sc, &seg, &s->max_items))
		s->flags |= JS_F_MAXITEMS;
	if (JS_KW("uniqueItems"))
	{
		if (kv->type != JS_BOOL)
			js_schema_problem(cc, sc, &seg, "value must be a boolean");
		else if (kv->u.b)
			s->flags |= JS_F_UNIQUE;
	}
	if (sc->draft >= JS_D19)
	{
		if (JS_KW("minContains") && get_count(cc, kv, sc, &seg, &s->min_contains))
			s->flags |= JS_F_MINCONT;
		if (JS_KW("maxContains") && get_count(cc, kv, sc, &seg, &s->max_contains))
			s->flags |= JS_F_MAXCONT;
		if (JS_KW("dependentRequired"))
		{
			if (kv->type != JS_OBJECT)
				js_schema_problem(cc, sc, &seg, "value must be an object of string arrays");
			else
			{
				s->dep_req = js_arena_alloc(cc->a, (kv->n ? kv->n : 1) * sizeof(js_depreq));
				if (!s->dep_req)
				{
					cc->oom = 1;
					return;
				}
				s->depreq_kw = "dependentRequired";
				for (size_t i = 0; i < kv->n; i++)
				{
					js_seg		ks = {&seg, kv->u.members[i].key, kv->u.members[i].klen, 0};
					js_depreq  *d = &s->dep_req[s->n_dep_req];

					d->name = kv->u.members[i].key;
					d->len = kv->u.members[i].klen;
					if (js_get_strlist(cc, kv->u.members[i].val, sc, &ks, &d->req))
						s->n_dep_req++;
				}
			}
		}
	}
	if (JS_KW("minProperties") && get_count(cc, kv, sc, &seg, &s->min_props))
		s->flags |= JS_F_MINPROPS;
	if (JS_KW("maxProperties") && get_count(cc, kv, sc, &seg, &s->max_props))
		s->flags |= JS_F_MAXPROPS;
	if (JS_KW("required") && js_get_strlist(cc, kv, sc, &seg, &s->required) &&
		s->required.n > 1)
		sort_required(cc, s);
}
