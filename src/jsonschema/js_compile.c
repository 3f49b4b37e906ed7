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

/* vocabulary bits */
#define VOC_CORE    (1u << 0)
#define VOC_APPL    (1u << 1)
#define VOC_UNEV    (1u << 2)
#define VOC_VALID   (1u << 3)
#define VOC_META    (1u << 4)
#define VOC_FMT     (1u << 5)
#define VOC_FMTA    (1u << 6)
#define VOC_CONTENT (1u << 7)
#define VOC_ALL     (VOC_CORE | VOC_APPL | VOC_UNEV | VOC_VALID | VOC_META | VOC_FMT | VOC_CONTENT)

#define D7  7
#define D20 20

/* lexical context of a schema node */
typedef struct scope
{
	const char *base;			/* absolute base URI, no fragment */
	js_resource *res;
	int			draft;
	unsigned	vocab;
	const char *prefix;			/* problem location prefix ("" or "uri#") */
} scope;

typedef struct res_entry
{
	const js_val *root;
	scope		sc;
} res_entry;

typedef struct anchor_entry
{
	const js_val *node;
	int			dynamic;
} anchor_entry;

typedef struct pending
{
	js_schema **slot;
	js_schema  *owner;
	const char *uri;
	const char *loc;
	int			dynamic;
	int			draft;
} pending;

typedef struct cctx
{
	js_compiled *cs;
	js_arena   *a;
	const js_options *opt;
	js_plist   *pl;
	js_hmap		resources;		/* uri -> res_entry */
	js_hmap		anchors;		/* uri#name -> anchor_entry */
	pending    *pend;
	size_t		npend;
	size_t		cappend;
	int			oom;
} cctx;

static js_schema *compile_schema(cctx *cc, const js_val *v, scope sc, int docroot,
								 const js_seg *path, int depth);

/* record a schema problem at prefix+path */
static void
problem(cctx *cc, const scope *sc, const js_seg *path, const char *fmt,...)
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
new_schema(cctx *cc, int kind, const scope *sc)
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
placeholder(cctx *cc, const scope *sc)
{
	return new_schema(cc, JS_SK_TRUE, sc);
}

/* create a new schema resource named uri */
static js_resource *
new_resource(cctx *cc, const char *uri)
{
	js_resource *r = js_arena_zalloc(cc->a, sizeof(js_resource));

	if (!r)
		cc->oom = 1;
	else
		r->uri = uri;
	return r;
}

/* register a resource URI for node v with scope sc */
static void
register_resource(cctx *cc, const char *uri, const js_val *v, const scope *sc)
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
register_anchor(cctx *cc, const char *base, const char *name, size_t nlen,
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
add_pending(cctx *cc, js_schema **slot, js_schema *owner, const char *uri,
			const scope *sc, const js_seg *path, int dynamic)
{
	js_buf		b;
	pending    *p;

	if (cc->npend == cc->cappend)
	{
		size_t		nc = cc->cappend ? cc->cappend * 2 : 16;
		pending    *np = js_arealloc(&cc->a->al, cc->pend, nc * sizeof(pending));

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
static int
streq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* map a known dialect URI to a draft (0 if unknown) */
static int
known_dialect(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '#')
		n--;
	if (streq(s, n, "https://json-schema.org/draft/2020-12/schema") ||
		streq(s, n, "http://json-schema.org/draft/2020-12/schema"))
		return D20;
	if (streq(s, n, "http://json-schema.org/draft-07/schema") ||
		streq(s, n, "https://json-schema.org/draft-07/schema"))
		return D7;
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
		{"core", VOC_CORE}, {"applicator", VOC_APPL}, {"unevaluated", VOC_UNEV},
		{"validation", VOC_VALID}, {"meta-data", VOC_META},
		{"format-annotation", VOC_FMT}, {"format-assertion", VOC_FMTA},
		{"content", VOC_CONTENT}
	};
	const char *pre = "https://json-schema.org/draft/2020-12/vocab/";
	size_t		pl = strlen(pre);

	if (n <= pl || memcmp(s, pre, pl) != 0)
		return 0;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (streq(s + pl, n - pl, v[i].name))
			return v[i].bit;
	return 0;
}

/* apply "$schema": choose draft and vocabularies */
static void
set_dialect(cctx *cc, scope *sc, const js_val *sv, const js_seg *path)
{
	js_seg		seg = {path, "$schema", 7, 0};
	const js_val *meta,
			   *ms,
			   *voc;
	int			d;

	if (sv->type != JS_STRING)
	{
		problem(cc, sc, &seg, "\"$schema\" must be a string");
		return;
	}
	d = known_dialect(sv->u.str, sv->n);
	if (d)
	{
		sc->draft = d;
		sc->vocab = VOC_ALL;
		return;
	}
	{
		const char *frag;
		size_t		rl = js_uri_split(sv->u.str, &frag);

		meta = js_registry_lookup(cc->opt->registry, sv->u.str, rl);
	}
	if (!meta || meta->type != JS_OBJECT)
	{
		problem(cc, sc, &seg, "unknown or unsupported $schema \"%s\"", sv->u.str);
		return;
	}
	ms = js_val_get(meta, "$schema", 7);
	d = ms && ms->type == JS_STRING ? known_dialect(ms->u.str, ms->n) : 0;
	if (!d)
	{
		problem(cc, sc, &seg, "meta-schema \"%s\" uses an unsupported dialect", sv->u.str);
		return;
	}
	sc->draft = d;
	sc->vocab = VOC_ALL;
	voc = js_val_get(meta, "$vocabulary", 11);
	if (d == D20 && voc && voc->type == JS_OBJECT)
	{
		sc->vocab = VOC_CORE;
		for (size_t i = 0; i < voc->n; i++)
		{
			const js_member *m = &voc->u.members[i];
			unsigned	bit = vocab_bit(m->key, m->klen);

			if (bit)
				sc->vocab |= bit;
			else if (m->val->type == JS_BOOL && m->val->u.b)
				problem(cc, sc, &seg, "meta-schema requires unsupported vocabulary \"%.*s\"",
						(int) m->klen, m->key);
		}
	}
}

/* compile child schema v under keyword path */
static js_schema *
sub(cctx *cc, const js_val *v, const scope *sc, const js_seg *path, int depth)
{
	return compile_schema(cc, v, *sc, 0, path, depth + 1);
}

/* compile an array of schemas for keyword kw */
static void
sub_array(cctx *cc, const js_val *v, const scope *sc, const js_seg *path,
		  int depth, js_schema ***out, size_t *n)
{
	if (v->type != JS_ARRAY || v->n == 0)
	{
		problem(cc, sc, path, "value must be a non-empty array of schemas");
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

		(*out)[i] = sub(cc, v->u.items[i], sc, &seg, depth);
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
static js_named *
sub_object(cctx *cc, const js_val *v, const scope *sc, const js_seg *path,
		   int depth, size_t *n, int sort)
{
	js_named   *out;

	if (v->type != JS_OBJECT)
	{
		problem(cc, sc, path, "value must be an object of schemas");
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
		out[i].s = sub(cc, v->u.members[i].val, sc, &seg, depth);
	}
	*n = v->n;
	if (sort && v->n > 1)
		qsort(out, v->n, sizeof(js_named), named_cmp);
	return out;
}

/* read a non-negative integer keyword value */
static int
get_count(cctx *cc, const js_val *v, const scope *sc, const js_seg *path, size_t *out)
{
	if (v->type != JS_NUMBER || !v->is_int || v->u.num < 0)
	{
		problem(cc, sc, path, "value must be a non-negative integer");
		return 0;
	}
	*out = v->u.num > 1e18 ? (size_t) -1 : (size_t) v->u.num;
	return 1;
}

/* read a number keyword value */
static int
get_num(cctx *cc, const js_val *v, const scope *sc, const js_seg *path, double *out)
{
	if (v->type != JS_NUMBER)
	{
		problem(cc, sc, path, "value must be a number");
		return 0;
	}
	*out = v->u.num;
	return 1;
}

/* read an array of unique strings (required, dependentRequired) */
static int
get_strlist(cctx *cc, const js_val *v, const scope *sc, const js_seg *path, js_strlist *out)
{
	if (v->type != JS_ARRAY)
	{
		problem(cc, sc, path, "value must be an array of strings");
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

			problem(cc, sc, &seg, "value must be a string");
			return 0;
		}
		out->s[i] = v->u.items[i]->u.str;
		out->len[i] = v->u.items[i]->n;
	}
	out->n = v->n;
	return 1;
}

/* compile a regex and remember it for freeing */
static js_regex *
compile_regex(cctx *cc, const char *pat, size_t len, const scope *sc, const js_seg *path)
{
	char		err[256];
	js_regex   *re;
	js_compiled *cs = cc->cs;

	re = js_regex_compile(cs->renv, pat, len, err, sizeof err);
	if (!re)
	{
		problem(cc, sc, path, "%s", err);
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
compile_type(cctx *cc, js_schema *s, const js_val *v, const scope *sc, const js_seg *path)
{
	static const char *names[] = {"null", "boolean", "number", "string", "array", "object", "integer"};
	size_t		n = v->type == JS_ARRAY ? v->n : 1;

	if (v->type != JS_STRING && v->type != JS_ARRAY)
	{
		problem(cc, sc, path, "value must be a type name or an array of type names");
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		const js_val *t = v->type == JS_ARRAY ? v->u.items[i] : v;
		int			k;

		for (k = 0; k < 7; k++)
			if (t->type == JS_STRING && streq(t->u.str, t->n, names[k]))
				break;
		if (k == 7)
		{
			problem(cc, sc, path, "invalid type name");
			return;
		}
		s->types |= 1u << k;
	}
	s->flags |= JS_F_TYPE;
}

/* handle $id, $anchor and $dynamicAnchor; updates sc */
static void
compile_ids(cctx *cc, js_schema *s, const js_val *v, scope *sc, const js_seg *path,
			int docroot)
{
	const js_val *idv = js_val_get(v, "$id", 3);
	const js_val *av;

	if (docroot)
		register_resource(cc, sc->base, v, sc);
	if (idv && !(sc->draft == D7 && js_val_get(v, "$ref", 4)))
	{
		js_seg		seg = {path, "$id", 3, 0};

		if (idv->type != JS_STRING)
			problem(cc, sc, &seg, "\"$id\" must be a string");
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
				sc->res = new_resource(cc, sc->base);
				s->res = sc->res;
				register_resource(cc, sc->base, v, sc);
			}
			if (*frag)
			{
				if (sc->draft == D7)
					register_anchor(cc, sc->base, frag, strlen(frag), v, 0);
				else
					problem(cc, sc, &seg, "\"$id\" must not contain a fragment");
			}
		}
	}
	if (sc->draft == D7)
		return;
	if ((av = js_val_get(v, "$anchor", 7)) != NULL)
	{
		js_seg		seg = {path, "$anchor", 7, 0};

		if (av->type != JS_STRING || av->n == 0)
			problem(cc, sc, &seg, "\"$anchor\" must be a non-empty string");
		else
			register_anchor(cc, sc->base, av->u.str, av->n, v, 0);
	}
	if ((av = js_val_get(v, "$dynamicAnchor", 14)) != NULL)
	{
		js_seg		seg = {path, "$dynamicAnchor", 14, 0};
		js_resource *r = sc->res;

		if (av->type != JS_STRING || av->n == 0)
			problem(cc, sc, &seg, "\"$dynamicAnchor\" must be a non-empty string");
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
static void
compile_ref(cctx *cc, js_schema *s, const js_val *v, const scope *sc,
			const js_seg *path, int dynamic)
{
	char	   *abs;

	if (v->type != JS_STRING)
	{
		problem(cc, sc, path, "value must be a URI-reference string");
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

#define KW(name) (kv = js_val_get(v, name, sizeof(name) - 1)) != NULL && \
	(seg.s = name, seg.len = sizeof(name) - 1, 1)

/* compile the applicator keywords of object schema v into s */
static void
compile_applicators(cctx *cc, js_schema *s, const js_val *v, const scope *sc,
					const js_seg *path, int depth)
{
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};

	if (KW("allOf"))
		sub_array(cc, kv, sc, &seg, depth, &s->all_of, &s->n_all);
	if (KW("anyOf"))
		sub_array(cc, kv, sc, &seg, depth, &s->any_of, &s->n_any);
	if (KW("oneOf"))
		sub_array(cc, kv, sc, &seg, depth, &s->one_of, &s->n_one);
	if (KW("not"))
		s->not_ = sub(cc, kv, sc, &seg, depth);
	if (KW("if"))
		s->if_ = sub(cc, kv, sc, &seg, depth);
	if (KW("then"))
	{
		js_schema  *t = sub(cc, kv, sc, &seg, depth);

		if (s->if_)
			s->then_ = t;
	}
	if (KW("else"))
	{
		js_schema  *t = sub(cc, kv, sc, &seg, depth);

		if (s->if_)
			s->else_ = t;
	}
	if (KW("properties"))
		s->props = sub_object(cc, kv, sc, &seg, depth, &s->n_props, 1);
	if (KW("patternProperties"))
	{
		if (kv->type != JS_OBJECT)
			problem(cc, sc, &seg, "value must be an object of schemas");
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
				pp->re = compile_regex(cc, pp->src, pp->srclen, sc, &ks);
				pp->s = sub(cc, kv->u.members[i].val, sc, &ks, depth);
				if (pp->re)
					s->n_pprops++;
			}
		}
	}
	if (KW("additionalProperties"))
		s->addl_props = sub(cc, kv, sc, &seg, depth);
	if (KW("propertyNames"))
		s->prop_names = sub(cc, kv, sc, &seg, depth);
	if (KW("contains"))
		s->contains = sub(cc, kv, sc, &seg, depth);
	if (sc->draft == D20)
	{
		if (KW("prefixItems"))
		{
			sub_array(cc, kv, sc, &seg, depth, &s->prefix, &s->n_prefix);
			s->prefix_kw = "prefixItems";
		}
		if (KW("items"))
		{
			s->items = sub(cc, kv, sc, &seg, depth);
			s->items_kw = "items";
		}
		if (KW("dependentSchemas"))
		{
			s->dep_schemas = sub_object(cc, kv, sc, &seg, depth, &s->n_dep_schemas, 0);
			s->dep_kw = "dependentSchemas";
		}
	}
	else
	{
		const js_val *items = js_val_get(v, "items", 5);

		if (KW("items"))
		{
			if (kv->type == JS_ARRAY)
			{
				s->prefix_kw = "items";
				if (kv->n > 0)
					sub_array(cc, kv, sc, &seg, depth, &s->prefix, &s->n_prefix);
			}
			else
			{
				s->items = sub(cc, kv, sc, &seg, depth);
				s->items_kw = "items";
			}
		}
		if (KW("additionalItems"))
		{
			js_schema  *t = sub(cc, kv, sc, &seg, depth);

			if (items && items->type == JS_ARRAY)
			{
				s->items = t;
				s->items_kw = "additionalItems";
			}
		}
		if (KW("dependencies"))
		{
			if (kv->type != JS_OBJECT)
				problem(cc, sc, &seg, "value must be an object");
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
						if (get_strlist(cc, m->val, sc, &ks, &d->req))
							s->n_dep_req++;
					}
					else
					{
						js_named   *d = &s->dep_schemas[s->n_dep_schemas++];

						d->name = m->key;
						d->len = m->klen;
						d->s = sub(cc, m->val, sc, &ks, depth);
					}
				}
			}
		}
	}
}

/* compile the validation-vocabulary keywords of v into s */
static void
compile_validation(cctx *cc, js_schema *s, const js_val *v, const scope *sc,
				   const js_seg *path)
{
	const js_val *kv;
	js_seg		seg = {path, NULL, 0, 0};

	if (KW("type"))
		compile_type(cc, s, kv, sc, &seg);
	if (KW("const"))
	{
		s->const_v = kv;
		s->flags |= JS_F_CONST;
	}
	if (KW("enum"))
	{
		if (kv->type != JS_ARRAY)
			problem(cc, sc, &seg, "value must be an array");
		else
		{
			s->enum_v = (const js_val **) kv->u.items;
			s->nenum = kv->n;
			s->flags |= JS_F_ENUM;
		}
	}
	if (KW("multipleOf") && get_num(cc, kv, sc, &seg, &s->multiple_of))
	{
		if (s->multiple_of <= 0)
			problem(cc, sc, &seg, "value must be strictly greater than 0");
		else
			s->flags |= JS_F_MULT;
	}
	if (KW("minimum") && get_num(cc, kv, sc, &seg, &s->minimum))
		s->flags |= JS_F_MIN;
	if (KW("maximum") && get_num(cc, kv, sc, &seg, &s->maximum))
		s->flags |= JS_F_MAX;
	if (KW("exclusiveMinimum") && get_num(cc, kv, sc, &seg, &s->xminimum))
		s->flags |= JS_F_XMIN;
	if (KW("exclusiveMaximum") && get_num(cc, kv, sc, &seg, &s->xmaximum))
		s->flags |= JS_F_XMAX;
	if (KW("minLength") && get_count(cc, kv, sc, &seg, &s->min_length))
		s->flags |= JS_F_MINLEN;
	if (KW("maxLength") && get_count(cc, kv, sc, &seg, &s->max_length))
		s->flags |= JS_F_MAXLEN;
	if (KW("pattern"))
	{
		if (kv->type != JS_STRING)
			problem(cc, sc, &seg, "value must be a string");
		else
		{
			s->pattern = compile_regex(cc, kv->u.str, kv->n, sc, &seg);
			s->pattern_src = kv->u.str;
		}
	}
	if (KW("minItems") && get_count(cc, kv, sc, &seg, &s->min_items))
		s->flags |= JS_F_MINITEMS;
	if (KW("maxItems") && get_count(cc, kv, sc, &seg, &s->max_items))
		s->flags |= JS_F_MAXITEMS;
	if (KW("uniqueItems"))
	{
		if (kv->type != JS_BOOL)
			problem(cc, sc, &seg, "value must be a boolean");
		else if (kv->u.b)
			s->flags |= JS_F_UNIQUE;
	}
	if (sc->draft == D20)
	{
		if (KW("minContains") && get_count(cc, kv, sc, &seg, &s->min_contains))
			s->flags |= JS_F_MINCONT;
		if (KW("maxContains") && get_count(cc, kv, sc, &seg, &s->max_contains))
			s->flags |= JS_F_MAXCONT;
		if (KW("dependentRequired"))
		{
			if (kv->type != JS_OBJECT)
				problem(cc, sc, &seg, "value must be an object of string arrays");
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
					if (get_strlist(cc, kv->u.members[i].val, sc, &ks, &d->req))
						s->n_dep_req++;
				}
			}
		}
	}
	if (KW("minProperties") && get_count(cc, kv, sc, &seg, &s->min_props))
		s->flags |= JS_F_MINPROPS;
	if (KW("maxProperties") && get_count(cc, kv, sc, &seg, &s->max_props))
		s->flags |= JS_F_MAXPROPS;
	if (KW("required"))
		get_strlist(cc, kv, sc, &seg, &s->required);
}

/* compile one schema node (boolean or object) with lexical scope sc */
static js_schema *
compile_schema(cctx *cc, const js_val *v, scope sc, int docroot,
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
			register_resource(cc, sc.base, v, &sc);
		s = new_schema(cc, v->u.b ? JS_SK_TRUE : JS_SK_FALSE, &sc);
		((js_val *) v)->compiled = s;
		return s;
	}
	if (v->type != JS_OBJECT)
	{
		problem(cc, &sc, path, "schema must be an object or a boolean");
		return placeholder(cc, &sc);
	}
	if (depth > cc->opt->max_schema_depth)
	{
		problem(cc, &sc, path, "schema nesting exceeds depth limit (%d)",
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
		set_dialect(cc, &sc, kv, path);
		s->draft = (uint8_t) sc.draft;
	}
	compile_ids(cc, s, v, &sc, path, docroot);

	if (sc.draft == D7)
	{
		/* definitions are walked for identifiers in both drafts' layouts */
		if (KW("definitions"))
			sub_object(cc, kv, &sc, &seg, depth, &ndefs, 0);
		if (KW("$ref"))
		{
			/* draft-07: all siblings of $ref are ignored */
			compile_ref(cc, s, kv, &sc, &seg, 0);
			return s;
		}
	}
	else
	{
		if (KW("$defs"))
			sub_object(cc, kv, &sc, &seg, depth, &ndefs, 0);
		if (KW("$ref"))
			compile_ref(cc, s, kv, &sc, &seg, 0);
		if (KW("$dynamicRef"))
			compile_ref(cc, s, kv, &sc, &seg, 1);
	}
	if (sc.vocab & VOC_APPL)
		compile_applicators(cc, s, v, &sc, path, depth);
	if (sc.draft == D20 && (sc.vocab & VOC_UNEV))
	{
		if (KW("unevaluatedProperties"))
			s->uneval_props = sub(cc, kv, &sc, &seg, depth);
		if (KW("unevaluatedItems"))
			s->uneval_items = sub(cc, kv, &sc, &seg, depth);
		if (s->uneval_props || s->uneval_items)
			s->flags |= JS_F_UNEVAL;
	}
	if (sc.vocab & VOC_VALID)
		compile_validation(cc, s, v, &sc, path);
	if ((sc.vocab & (VOC_FMT | VOC_FMTA)) && KW("format"))
	{
		if (kv->type != JS_STRING)
			problem(cc, &sc, &seg, "value must be a string");
		else
		{
			s->format_name = kv->u.str;
			s->format = js_format_lookup(kv->u.str, kv->n);
			s->format_assert = (cc->opt->format_assertion || (sc.vocab & VOC_FMTA)) &&
				s->format != NULL;
			if (s->format)
				s->flags |= JS_F_FORMAT;
		}
	}
	return s;
}

#undef KW

/* load a document (registry or embedded meta-schema) named uri[0..len) */
static const res_entry *
load_document(cctx *cc, const char *uri, size_t len, int draft)
{
	const js_val *doc = js_registry_lookup(cc->opt->registry, uri, len);
	js_val	   *copy = NULL;
	scope		sc;
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
	sc.vocab = VOC_ALL;
	sc.res = new_resource(cc, sc.base);
	if (!sc.res)
		return NULL;
	compile_schema(cc, copy, sc, 1, NULL, 0);
	return js_hmap_get(&cc->resources, sc.base, len);
}

/* resolve one pending reference to its target schema */
static js_schema *
resolve(cctx *cc, const pending *p, int *is_dynamic_anchor)
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
		scope		sc = re->sc;

		sc.prefix = p->uri;
		return compile_schema(cc, node, sc, 0, NULL, 0);
	}
}

/* allocate an empty problem list */
static js_plist *
plist_new(const js_allocator *al)
{
	js_plist   *pl = js_amalloc(al, sizeof(js_plist));

	if (!pl)
		return NULL;
	memset(pl, 0, sizeof *pl);
	js_arena_init(&pl->arena, al);
	return pl;
}

/* free a problem list */
static void
plist_free(js_plist *pl)
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
	plist_free(pl);
	js_afree(&al, p);
}

/* wrap a problem list into the public struct */
static js_problems *
plist_publish(js_plist *pl)
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
	cctx		cc;
	js_val	   *root;
	const char *err = NULL;
	scope		sc;
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
	cc.pl = plist_new(al);
	js_hmap_init(&cc.resources, &cs->al);
	js_hmap_init(&cc.anchors, &cs->al);
	if (!cs->renv || !cc.pl)
	{
		rc = JS_ENOMEM;
		goto done;
	}

	sc.base = "";
	sc.prefix = "";
	sc.draft = opt.default_draft == JS_DRAFT_7 ? D7 : D20;
	sc.vocab = VOC_ALL;
	sc.res = new_resource(&cc, "");
	root = js_val_copy(&cs->arena, acc, schema, opt.max_schema_depth * 2 + 8, &err);
	if (!root)
	{
		if (cs->arena.oom)
			rc = JS_ENOMEM;
		else
			problem(&cc, &sc, NULL, "%s", err ? err : "cannot read schema");
		goto done;
	}
	cs->root = compile_schema(&cc, root, sc, 1, NULL, 0);
	for (size_t i = 0; i < cc.npend && !cc.oom; i++)
	{
		pending		p = cc.pend[i];
		int			dyn;
		js_schema  *t = resolve(&cc, &p, &dyn);

		if (!t)
		{
			scope		ps = sc;

			ps.prefix = p.loc;
			if (!cc.oom)
				problem(&cc, &ps, NULL, "cannot resolve reference \"%s\"", p.uri);
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
			*problems = plist_publish(cc.pl);
			if (!*problems)
			{
				plist_free(cc.pl);
				if (rc == JS_OK)
				{
					js_compiled_free(*out);
					*out = NULL;
				}
				rc = JS_ENOMEM;
			}
		}
		else
			plist_free(cc.pl);
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
