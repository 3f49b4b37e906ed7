/*
 * js_compile_refs.c - identifiers and references at compile time: schema
 * resources ($id, draft-04 id), anchors ($anchor, $dynamicAnchor,
 * $recursiveAnchor, draft-04..07 "#name" ids), $ref / $dynamicRef /
 * $recursiveRef recorded as pending references, and their resolution
 * after the walk (loading registry documents and embedded meta-schemas).
 */
#include "js_internal.h"

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

/* add a dynamic anchor (name, schema s) to resource r */
static void
add_dynamic(js_cctx *cc, js_resource *r, const char *name, size_t len, js_schema *s)
{
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
	r->dyn[r->ndyn].name = name;
	r->dyn[r->ndyn].len = len;
	r->dyn[r->ndyn].s = s;
	r->ndyn++;
}

/*
 * handle $id (draft-04: id), $anchor, $dynamicAnchor and 2019-09's
 * $recursiveAnchor; updates sc
 */
void
js_compile_ids(js_cctx *cc, js_schema *s, const js_val *v, js_scope *sc, const js_seg *path,
			   int docroot)
{
	const char *idkw = sc->draft == JS_D4 ? "id" : "$id";
	const js_val *idv = js_val_get(v, idkw, strlen(idkw));
	const js_val *av;

	if (docroot)
		js_register_resource(cc, sc->base, v, sc);
	if (idv && !(JS_DRAFT_OLD(sc->draft) && js_val_get(v, "$ref", 4)))
	{
		js_seg		seg = {path, idkw, strlen(idkw), 0};

		if (idv->type != JS_STRING)
			js_schema_problem(cc, sc, &seg, "\"%s\" must be a string", idkw);
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
				if (JS_DRAFT_OLD(sc->draft))
					register_anchor(cc, sc->base, frag, strlen(frag), v, 0);
				else
					js_schema_problem(cc, sc, &seg, "\"$id\" must not contain a fragment");
			}
		}
	}
	if (JS_DRAFT_OLD(sc->draft))
		return;
	if ((av = js_val_get(v, "$anchor", 7)) != NULL)
	{
		js_seg		seg = {path, "$anchor", 7, 0};

		if (av->type != JS_STRING || av->n == 0)
			js_schema_problem(cc, sc, &seg, "\"$anchor\" must be a non-empty string");
		else
			register_anchor(cc, sc->base, av->u.str, av->n, v, 0);
	}
	if (sc->draft == JS_D20 && (av = js_val_get(v, "$dynamicAnchor", 14)) != NULL)
	{
		js_seg		seg = {path, "$dynamicAnchor", 14, 0};

		if (av->type != JS_STRING || av->n == 0)
			js_schema_problem(cc, sc, &seg, "\"$dynamicAnchor\" must be a non-empty string");
		else
		{
			register_anchor(cc, sc->base, av->u.str, av->n, v, 1);
			add_dynamic(cc, sc->res, av->u.str, av->n, s);
		}
	}
	/*
	 * 2019-09 "$recursiveAnchor": true is a dynamic anchor with the empty
	 * name (no $dynamicAnchor can have it), so $recursiveRef runs on the
	 * $dynamicRef machinery: the outermost such resource in scope wins.
	 */
	if (sc->draft == JS_D19 && (av = js_val_get(v, "$recursiveAnchor", 16)) != NULL)
	{
		js_seg		seg = {path, "$recursiveAnchor", 16, 0};

		if (av->type != JS_BOOL)
			js_schema_problem(cc, sc, &seg, "\"$recursiveAnchor\" must be a boolean");
		else if (av->u.b)
			add_dynamic(cc, sc->res, "", 0, s);
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
	if (dynamic == JS_REF_RECURSIVE)
	{
		/* the empty name: see $recursiveAnchor in js_compile_ids */
		s->dyn_name = "";
		s->dyn_name_len = 0;
		add_pending(cc, &s->dynref, s, abs, sc, path, dynamic);
	}
	else if (dynamic)
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
	{
		js_scope	sc = re->sc;
		js_schema  *t;

		sc.prefix = p->uri;
		t = node->compiled ? node->compiled : js_compile_schema(cc, node, sc, 0, NULL, 0);
		/* $recursiveRef is dynamic only when its target has $recursiveAnchor */
		if (t && p->dynamic == JS_REF_RECURSIVE)
			for (size_t i = 0; t->res && i < t->res->ndyn; i++)
				if (t->res->dyn[i].len == 0 && t->res->dyn[i].s == t)
					*is_dynamic_anchor = 1;
		return t;
	}
}
