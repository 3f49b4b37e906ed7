/*
 * js_compile_problems.c - the problem list of a compilation: recording a
 * schema problem at its keyword location (what js_check reports) and
 * handing the list to the caller as js_problems.
 */
#include "js_internal.h"

#include <string.h>

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
