/*
 * js_compile.c - compile a schema document into js_schema nodes: dialect
 * and vocabulary selection, $id/$anchor bookkeeping, keyword value checks
 * (the problems reported by js_check) and $ref resolution.
 */
#include "js_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct res_entry
{
	const js_val *root;
	js_scope	sc;
} res_entry;

typedef struct anchor_entry
{
	const js_val *node;
	int			dynamic;
} anchor_entry;



/* record a schema problem at prefix+path */
void
js_schema_problem(js_cctx *cc, const js_scope *sc, const js_seg *path, const char *fmt,...)
{
	js_plist   *pl = cc->pl;
	js_buf		b;
	va_list		ap;

	if (pl->n == pl->cap)
	{
		size_t		nc = pl->cap ? pl->cap * 2 : 8;
		js_problem *ni = js_arealloc(&pl->arena.al, pl->items, nc * sizeof(js_problem));

		if (!ni)
		{
			cc->oom = 1;
			return;
		}
		pl->items = ni;
		pl->cap = nc;
	}
	js_buf_init(&b, &pl->arena.al);
	js_buf_adds(&b, sc && sc->prefix ? sc->prefix : "");
	js_buf_pointer(&b, path);
	pl->items[pl->n].keyword_location = js_arena_strndup(&pl->arena, b.s ? b.s : "", b.len);
	js_buf_free(&b);
	js_buf_init(&b, &pl->arena.al);
	va_start(ap, fmt);
	js_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pl->items[pl->n].message = js_arena_strndup(&pl->arena, b.s ? b.s : "", b.len);
	js_buf_free(&b);
	if (b.oom || !pl->items[pl->n].message || !pl->items[pl->n].keyword_location)
		cc->oom = 1;
	else
		pl->n++;
}

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

/* a shared "true" schema used after problems */
static js_schema *
placeholder(js_cctx *cc, const js_scope *sc)
{
	return new_schema(cc, JS_SK_TRUE, sc);
}

/* create a new schema resource named uri */
js_resource *
js_new_resource(js_cctx *cc, const char *uri)
{
	js_resource *r = js_arena_zalloc(cc->a, sizeof(js_resource));

	if (!r)
		cc->oom = 1;
	else
		r->uri = uri;
	return r;
}

/* register a resource URI for node v with scope sc */
void
js_register_resource(js_cctx *cc, const char *uri, const js_val *v, const js_scope *sc)
{
	res_entry  *e = js_arena_alloc(cc->a, sizeof(res_entry));

	if (!e)
	{
		cc->oom = 1;
		return;
	}
	e->root = v;
	e->sc = *sc;
	if (!js_hmap_get(&cc->resources, uri, strlen(uri)) &&
		!js_hmap_put(&cc->resources, uri, strlen(uri), e))
		cc->oom = 1;
}

/* register an anchor base#name for node v */
static void
register_anchor(js_cctx *cc, const char *base, const char *name, size_t nlen,
				const js_val *v, int dynamic)
{
	js_buf		b;
	char	   *key;
	anchor_entry *e,
			   *old;

	js_buf_init(&b, &cc->a->al);
	js_buf_adds(&b, base);
	js_buf_add(&b, "#", 1);
	js_buf_add(&b, name, nlen);
	key = js_arena_strndup(cc->a, b.s ? b.s : "", b.len);
	js_buf_free(&b);
	e = js_arena_alloc(cc->a, sizeof(anchor_entry));
	if (!key || !e)
	{
		cc->oom = 1;
		return;
	}
	old = js_hmap_get(&cc->anchors, key, strlen(key));
	if (old && old->node == v)
	{
		old->dynamic |= dynamic;
		return;
	}
	e->node = v;
	e->dynamic = dynamic;
	if (!js_hmap_put(&cc->anchors, key, strlen(key), e))
		cc->oom = 1;
}

/* add a pending reference to resolve after the walk */
static void
add_pending(js_cctx *cc, js_schema **slot, js_schema *owner, const char *uri,
			const js_scope *sc, const js_seg *path, int dynamic)
{
	js_buf		b;
	js_pending *p;

	if (cc->npend == cc->cappend)
	{
		size_t		nc = cc->cappend ? cc->cappend * 2 : 16;
		js_pending *np = js_arealloc(&cc->a->al, cc->pend, nc * sizeof(js_pending));

		if (!np)
		{
			cc->oom = 1;
			return;
		}
		cc->pend = np;
		cc->cappend = nc;
	}
	p = &cc->pend[cc->npend++];
	p->slot = slot;
	p->owner = owner;
	p->uri = uri;
	p->dynamic = dynamic;
	p->draft = sc->draft;
	js_buf_init(&b, &cc->a->al);
	js_buf_adds(&b, sc->prefix);
	js_buf_pointer(&b, path);
	p->loc = js_arena_strndup(cc->a, b.s ? b.s : "", b.len);
	js_buf_free(&b);
}

/* true if s equals the NUL-terminated string lit */
int
js_streq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* map a known dialect URI to a draft (0 if unknown) */
static int
known_dialect(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '#')
		n--;
	if (js_streq(s, n, "https://json-schema.org/draft/2020-12/schema") ||
		js_streq(s, n, "http://json-schema.org/draft/2020-12/schema"))
		return JS_D20;
	if (js_streq(s, n, "http://json-schema.org/draft-07/schema") ||
		js_streq(s, n, "https://json-schema.org/draft-07/schema"))
		return JS_D7;
	return 0;
}

/* map a vocabulary URI to its bit (0 if unknown) */
static unsigned
vocab_bit(const char *s, size_t n)
{
	static const struct
	{
		const char *name;
		unsigned	bit;
	}			v[] = {
		{"core", JS_VOC_CORE}, {"applicator", JS_VOC_APPL}, {"unevaluated", JS_VOC_UNEV},
		{"validation", JS_VOC_VALID}, {"meta-data", JS_VOC_META},
		{"format-annotation", JS_VOC_FMT}, {"format-assertion", JS_VOC_FMTA},
		{"content", JS_VOC_CONTENT}
	};
	const char *pre = "https://json-schema.org/draft/2020-12/vocab/";
	size_t		pl = strlen(pre);

	if (n <= pl || memcmp(s, pre, pl) != 0)
		return 0;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (js_streq(s + pl, n - pl, v[i].name))
			return v[i].bit;
	return 0;
}

/* apply "$schema": choose draft and vocabularies */
void
js_set_dialect(js_cctx *cc, js_scope *sc, const js_val *sv, const js_seg *path)
{
	js_seg		seg = {path, "$schema", 7, 0};
	const js_val *meta,
			   *ms,
			   *voc;
	int			d;

	if (sv->type != JS_STRING)
	{
		js_schema_problem(cc, sc, &seg, "\"$schema\" must be a string");
		return;
	}
	d = known_dialect(sv->u.str, sv->n);
	if (d)
	{
		sc->draft = d;
		sc->vocab = JS_VOC_ALL;
		return;
	}
	{
		const char *frag;
		size_t		rl = js_uri_split(sv->u.str, &frag);

		meta = js_registry_lookup(cc->opt->registry, sv->u.str, rl);
	}
	if (!meta || meta->type != JS_OBJECT)
	{
		js_schema_problem(cc, sc, &seg, "unknown or unsupported $schema \"%s\"", sv->u.str);
		return;
	}
	ms = js_val_get(meta, "$schema", 7);
	d = ms && ms->type == JS_STRING ? known_dialect(ms->u.str, ms->n) : 0;
	if (!d)
	{
		js_schema_problem(cc, sc, &seg, "meta-schema \"%s\" uses an unsupported dialect", sv->u.str);
		return;
	}
	sc->draft = d;
	sc->vocab = JS_VOC_ALL;
	voc = js_val_get(meta, "$vocabulary", 11);
	if (d == JS_D20 && voc && voc->type == JS_OBJECT)
	{
		sc->vocab = JS_VOC_CORE;
		for (size_t i = 0; i < voc->n; i++)
		{
			const js_member *m = &voc->u.members[i];
			unsigned	bit = vocab_bit(m->key, m->klen);

			if (bit)
				sc->vocab |= bit;
			else if (m->val->type == JS_BOOL && m->val->u.b)
				js_schema_problem(cc, sc, &seg, "meta-schema requires unsupported vocabulary \"%.*s\"",
								  (int) m->klen, m->key);
		}
	}
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

/* read a number keyword value */
static int
get_num(js_cctx *cc, const js_val *v, const js_scope *sc, const js_seg *path, double *out)
{
	if (v->type != JS_NUMBER)
	{
		js_schema_problem(cc, sc, path, "value must be a number");
		return 0;
	}
	*out = v->u.num;
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

/* handle $id, $anchor and $dynamicAnchor; updates sc */
void
js_compile_ids(js_cctx *cc, js_schema *s, const js_val *v, js_scope *sc, const js_seg *path,
			   int docroot)
{
	const js_val *idv = js_val_get(v, "$id", 3);
	const js_val *av;

	if (docroot)
		js_register_resource(cc, sc->base, v, sc);
	if (idv && !(sc->draft == JS_D7 && js_val_get(v, "$ref", 4)))
	{
		js_seg		seg = {path, "$id", 3, 0};

		if (idv->type != JS_STRING)
			js_schema_problem(cc, sc, &seg, "\"$id\" must be a string");
		else
		{
			char	   *abs = js_uri_resolve(cc->a, sc->base, idv->u.str, idv->n);
			const char *frag;
			size_t		bl;

			if (!abs)
			{
				cc->oom = 1;
				return;
			}
			bl = js_uri_split(abs, &frag);
			if (idv->n == 0 || idv->u.str[0] != '#')
			{
				sc->base = js_arena_strndup(cc->a, abs, bl);
				if (!sc->base)
				{
					cc->oom = 1;
					return;
				}
				sc->res = js_new_resource(cc, sc->base);
				s->res = sc->res;
				js_register_resource(cc, sc->base, v, sc);
			}
			if (*frag)
			{
				if (sc->draft == JS_D7)
					register_anchor(cc, sc->base, frag, strlen(frag), v, 0);
				else
					js_schema_problem(cc, sc, &seg, "\"$id\" must not contain a fragment");
			}
		}
	}
	if (sc->draft == JS_D7)
		return;
	if ((av = js_val_get(v, "$anchor", 7)) != NULL)
	{
		js_seg		seg = {path, "$anchor", 7, 0};

		if (av->type != JS_STRING || av->n == 0)
			js_schema_problem(cc, sc, &seg, "\"$anchor\" must be a non-empty string");
		else
			register_anchor(cc, sc->base, av->u.str, av->n, v, 0);
	}
	if ((av = js_val_get(v, "$dynamicAnchor", 14)) != NULL)
	{
		js_seg		seg = {path, "$dynamicAnchor", 14, 0};
		js_resource *r = sc->res;

		if (av->type != JS_STRING || av->n == 0)
			js_schema_problem(cc, sc, &seg, "\"$dynamicAnchor\" must be a non-empty string");
		else
		{
			register_anchor(cc, sc->base, av->u.str, av->n, v, 1);
			if (r->ndyn == r->capdyn)
			{
				size_t		nc = r->capdyn ? r->capdyn * 2 : 4;
				js_named   *nd = js_arena_alloc(cc->a, nc * sizeof(js_named));

				if (!nd)
				{
					cc->oom = 1;
					return;
				}
				if (r->ndyn)
					memcpy(nd, r->dyn, r->ndyn * sizeof(js_named));
				r->dyn = nd;
				r->capdyn = nc;
			}
			r->dyn[r->ndyn].name = av->u.str;
			r->dyn[r->ndyn].len = av->n;
			r->dyn[r->ndyn].s = s;
			r->ndyn++;
		}
	}
}

/* compile a $ref / $dynamicRef value into a pending reference */
void
js_compile_ref(js_cctx *cc, js_schema *s, const js_val *v, const js_scope *sc,
			   const js_seg *path, int dynamic)
{
	char	   *abs;

	if (v->type != JS_STRING)
	{
		js_schema_problem(cc, sc, path, "value must be a URI-reference string");
		return;
	}
	abs = js_uri_resolve(cc->a, sc->base, v->u.str, v->n);
	if (!abs)
	{
		cc->oom = 1;
		return;
	}
	if (dynamic)
	{
		const char *h = memchr(v->u.str, '#', v->n);

		if (h && h + 1 < v->u.str + v->n && h[1] != '/')
		{
			s->dyn_name = h + 1;
			s->dyn_name_len = (size_t) (v->u.str + v->n - h - 1);
		}
		add_pending(cc, &s->dynref, s, abs, sc, path, 1);
	}
	else
		add_pending(cc, &s->ref, s, abs, sc, path, 0);
}

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
	if (JS_KW("if"))
		s->if_ = js_sub(cc, kv, sc, &seg, depth);
	if (JS_KW("then"))
	{
		js_schema  *t = js_sub(cc, kv, sc, &seg, depth);

		if (s->if_)
			s->then_ = t;
	}
	if (JS_KW("else"))
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
	if (JS_KW("propertyNames"))
		s->prop_names = js_sub(cc, kv, sc, &seg, depth);
	if (JS_KW("contains"))
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
		if (JS_KW("dependencies"))
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

/* compile the validation-vocabulary keywords of v into s */
void
js_compile_validation(js_cctx *cc, js_schema *s, const js_val *v, const js_scope *sc,
					  const js_seg *path)
{
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};

	if (JS_KW("type"))
		compile_type(cc, s, kv, sc, &seg);
	if (JS_KW("const"))
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
		if (s->multiple_of <= 0)
			js_schema_problem(cc, sc, &seg, "value must be strictly greater than 0");
		else
			s->flags |= JS_F_MULT;
	}
	if (JS_KW("minimum") && get_num(cc, kv, sc, &seg, &s->minimum))
		s->flags |= JS_F_MIN;
	if (JS_KW("maximum") && get_num(cc, kv, sc, &seg, &s->maximum))
		s->flags |= JS_F_MAX;
	if (JS_KW("exclusiveMinimum") && get_num(cc, kv, sc, &seg, &s->xminimum))
		s->flags |= JS_F_XMIN;
	if (JS_KW("exclusiveMaximum") && get_num(cc, kv, sc, &seg, &s->xmaximum))
		s->flags |= JS_F_XMAX;
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
	if (sc->draft == JS_D20)
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
	if (JS_KW("required"))
		js_get_strlist(cc, kv, sc, &seg, &s->required);
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

	/* dialect: "$schema" at a resource root */
	if ((docroot || js_val_get(v, "$id", 3)) && (kv = js_val_get(v, "$schema", 7)) != NULL)
	{
		js_set_dialect(cc, &sc, kv, path);
		s->draft = (uint8_t) sc.draft;
	}
	js_compile_ids(cc, s, v, &sc, path, docroot);

	if (sc.draft == JS_D7)
	{
		/* definitions are walked for identifiers in both drafts' layouts */
		if (JS_KW("definitions"))
			js_sub_object(cc, kv, &sc, &seg, depth, &ndefs, 0);
		if (JS_KW("$ref"))
		{
			/* draft-07: all siblings of $ref are ignored */
			js_compile_ref(cc, s, kv, &sc, &seg, 0);
			return s;
		}
	}
	else
	{
		if (JS_KW("$defs"))
			js_sub_object(cc, kv, &sc, &seg, depth, &ndefs, 0);
		if (JS_KW("$ref"))
			js_compile_ref(cc, s, kv, &sc, &seg, 0);
		if (JS_KW("$dynamicRef"))
			js_compile_ref(cc, s, kv, &sc, &seg, 1);
	}
	if (sc.vocab & JS_VOC_APPL)
		js_compile_applicators(cc, s, v, &sc, path, depth);
	if (sc.draft == JS_D20 && (sc.vocab & JS_VOC_UNEV))
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
			s->format = js_format_lookup(kv->u.str, kv->n);
			s->format_assert = (cc->opt->format_assertion || (sc.vocab & JS_VOC_FMTA)) &&
				s->format != NULL;
			if (s->format)
				s->flags |= JS_F_FORMAT;
		}
	}
	return s;
}

/* load a document (registry or embedded meta-schema) named uri[0..len) */
static const res_entry *
load_document(js_cctx *cc, const char *uri, size_t len, int draft)
{
	const js_val *doc = js_registry_lookup(cc->opt->registry, uri, len);
	js_val	   *copy = NULL;
	js_scope	sc;
	js_buf		b;
	const char *err;

	if (doc)
		copy = js_val_copy(cc->a, &js_val_accessor, js_val_node(doc),
						   cc->opt->max_schema_depth * 2 + 8, &err);
	else
	{
		const char *text = js_metaschema_text(uri, len);

		if (!text)
			return NULL;
		copy = js_val_parse(cc->a, text, strlen(text), 64);
	}
	if (!copy)
		return NULL;
	sc.base = js_arena_strndup(cc->a, uri, len);
	js_buf_init(&b, &cc->a->al);
	js_buf_add(&b, uri, len);
	js_buf_add(&b, "#", 1);
	sc.prefix = js_arena_strndup(cc->a, b.s ? b.s : "", b.len);
	js_buf_free(&b);
	if (!sc.base || !sc.prefix)
	{
		cc->oom = 1;
		return NULL;
	}
	sc.draft = draft;
	sc.vocab = JS_VOC_ALL;
	sc.res = js_new_resource(cc, sc.base);
	if (!sc.res)
		return NULL;
	js_compile_schema(cc, copy, sc, 1, NULL, 0);
	return js_hmap_get(&cc->resources, sc.base, len);
}

/* resolve one pending reference to its target schema */
js_schema *
js_resolve(js_cctx *cc, const js_pending *p, int *is_dynamic_anchor)
{
	const char *frag;
	size_t		rl = js_uri_split(p->uri, &frag);
	const res_entry *re = js_hmap_get(&cc->resources, p->uri, rl);
	const js_val *node = NULL;
	size_t		fl;
	char	   *f;

	*is_dynamic_anchor = 0;
	if (!re)
		re = load_document(cc, p->uri, rl, p->draft);
	if (!re)
		return NULL;
	f = js_pct_decode(cc->a, frag, strlen(frag), &fl);
	if (!f)
	{
		cc->oom = 1;
		return NULL;
	}
	if (fl == 0)
		node = re->root;
	else if (f[0] == '/')
		node = js_pointer_get(re->root, f, fl);
	else
	{
		anchor_entry *ae = js_hmap_get(&cc->anchors, p->uri, strlen(p->uri));

		if (ae)
		{
			node = ae->node;
			*is_dynamic_anchor = ae->dynamic;
		}
	}
	if (!node)
		return NULL;
	if (node->compiled)
		return node->compiled;
	{
		js_scope	sc = re->sc;

		sc.prefix = p->uri;
		return js_compile_schema(cc, node, sc, 0, NULL, 0);
	}
}

/* allocate an empty problem list */
js_plist *
js_plist_new(const js_allocator *al)
{
	js_plist   *pl = js_amalloc(al, sizeof(js_plist));

	if (!pl)
		return NULL;
	memset(pl, 0, sizeof *pl);
	js_arena_init(&pl->arena, al);
	return pl;
}

/* free a problem list */
void
js_plist_free(js_plist *pl)
{
	js_allocator al;

	if (!pl)
		return;
	al = pl->arena.al;
	js_afree(&al, pl->items);
	js_arena_destroy(&pl->arena);
	js_afree(&al, pl);
}

/* free a problems list handed to the caller */
void
js_problems_free(js_problems *p)
{
	js_plist   *pl;
	js_allocator al;

	if (!p)
		return;
	pl = p->priv_;
	al = pl->arena.al;
	js_plist_free(pl);
	js_afree(&al, p);
}

/* wrap a problem list into the public struct */
js_problems *
js_plist_publish(js_plist *pl)
{
	js_problems *p = js_amalloc(&pl->arena.al, sizeof(js_problems));

	if (!p)
		return NULL;
	p->count = pl->n;
	p->items = pl->items;
	p->priv_ = pl;
	return p;
}

/* fill 'opt' with the defaults */
void
js_options_init(js_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->default_draft = JS_DRAFT_2020_12;
	opt->format_assertion = 0;
	opt->max_errors = 100;
	opt->max_instance_depth = 512;
	opt->max_schema_depth = 512;
	opt->max_eval_depth = 1024;
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
		opt.max_instance_depth = 512;
	if (opt.max_eval_depth <= 0)
		opt.max_eval_depth = 1024;
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
	sc.draft = opt.default_draft == JS_DRAFT_7 ? JS_D7 : JS_D20;
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
		if (p.dynamic)
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
