/*
 * js_ref.c - the caller-filled document registry (URI -> document) used to
 * resolve references to other documents.  Nothing is fetched remotely.
 */
#include "js_internal.h"

#include <string.h>

struct js_registry
{
	js_arena	arena;			/* copies of the documents and URIs */
	js_hmap		docs;			/* uri (no fragment) -> js_val* */
};

/* create an empty registry */
js_registry *
js_registry_new(const js_allocator *allocator)
{
	const js_allocator *al = allocator ? allocator : &js_libc_allocator;
	js_registry *r = js_amalloc(al, sizeof(js_registry));

	if (!r)
		return NULL;
	js_arena_init(&r->arena, al);
	js_hmap_init(&r->docs, &r->arena.al);
	return r;
}

/* copy 'doc' into the registry under 'uri' (an empty fragment is dropped) */
int
js_registry_add(js_registry *reg, const char *uri, const js_accessor *acc, js_node doc)
{
	const char *err;
	js_val	   *v;
	size_t		len;
	char	   *key;

	if (!reg || !uri || !acc)
		return JS_EINVAL;
	len = strlen(uri);
	if (len > 0 && uri[len - 1] == '#')
		len--;
	v = js_val_copy(&reg->arena, acc, doc, 100000, &err);
	if (!v)
		return reg->arena.oom ? JS_ENOMEM : JS_EINVAL;
	key = js_arena_strndup(&reg->arena, uri, len);
	if (!key || !js_hmap_put(&reg->docs, key, len, v))
		return JS_ENOMEM;
	return JS_OK;
}

/* find a registered document by URI (without fragment) */
const js_val *
js_registry_lookup(const js_registry *reg, const char *uri, size_t len)
{
	if (!reg)
		return NULL;
	if (len > 0 && uri[len - 1] == '#')
		len--;
	return js_hmap_get(&reg->docs, uri, len);
}

/* free the registry and all documents */
void
js_registry_free(js_registry *reg)
{
	js_allocator al;

	if (!reg)
		return;
	al = reg->arena.al;
	js_hmap_free(&reg->docs);
	js_arena_destroy(&reg->arena);
	js_afree(&al, reg);
}
