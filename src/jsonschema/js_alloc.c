/*
 * js_alloc.c - allocator plumbing: libc default, arenas, string buffers,
 * JSON pointer formatting and a small hash map.
 */
#include "js_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libc malloc adapter */
static void *
libc_malloc(void *ctx, size_t n)
{
	(void) ctx;
	return malloc(n ? n : 1);
}

/* libc realloc adapter */
static void *
libc_realloc(void *ctx, void *p, size_t n)
{
	(void) ctx;
	return realloc(p, n ? n : 1);
}

/* libc free adapter */
static void
libc_free(void *ctx, void *p)
{
	(void) ctx;
	free(p);
}

const js_allocator js_libc_allocator = {libc_malloc, libc_realloc, libc_free, NULL};

/* allocate n bytes through al */
void *
js_amalloc(const js_allocator *al, size_t n)
{
	return al->malloc_fn(al->ctx, n);
}

/* reallocate through al (p may be NULL) */
void *
js_arealloc(const js_allocator *al, void *p, size_t n)
{
	if (p == NULL)
		return al->malloc_fn(al->ctx, n);
	return al->realloc_fn(al->ctx, p, n);
}

/* free through al (p may be NULL) */
void
js_afree(const js_allocator *al, void *p)
{
	if (p)
		al->free_fn(al->ctx, p);
}

#define JS_CHUNK_DEFAULT 8192
#define JS_ALIGN(n) (((n) + 15) & ~(size_t) 15)
#define JS_CHUNK_HDR JS_ALIGN(sizeof(js_chunk))

/* initialise an empty arena drawing memory from al (copied) */
void
js_arena_init(js_arena *a, const js_allocator *al)
{
	a->al = *(al ? al : &js_libc_allocator);
	a->first = a->cur = NULL;
	a->oom = 0;
}

/* allocate n bytes (16-byte aligned); NULL and a->oom on failure */
void *
js_arena_alloc(js_arena *a, size_t n)
{
	js_chunk   *c;

	n = JS_ALIGN(n ? n : 1);
	if (a->cur && a->cur->size - a->cur->used >= n)
	{
		void	   *p = (char *) a->cur + JS_CHUNK_HDR + a->cur->used;

		a->cur->used += n;
		return p;
	}
	/* reuse a spare chunk after a release */
	if (a->cur && a->cur->next && a->cur->next->size >= n)
	{
		a->cur = a->cur->next;
		a->cur->used = n;
		return (char *) a->cur + JS_CHUNK_HDR;
	}
	{
		size_t		sz = n > JS_CHUNK_DEFAULT ? n : JS_CHUNK_DEFAULT;

		if (a->cur && a->cur->size * 2 > sz && a->cur->size < (1u << 20))
			sz = a->cur->size * 2;
		c = js_amalloc(&a->al, JS_CHUNK_HDR + sz);
		if (!c)
		{
			a->oom = 1;
			return NULL;
		}
		c->size = sz;
		c->used = n;
		if (a->cur)
		{
			c->next = a->cur->next;
			a->cur->next = c;
		}
		else
		{
			c->next = a->first;
			a->first = c;
		}
		a->cur = c;
		return (char *) c + JS_CHUNK_HDR;
	}
}

/* allocate n zeroed bytes */
void *
js_arena_zalloc(js_arena *a, size_t n)
{
	void	   *p = js_arena_alloc(a, n);

	if (p)
		memset(p, 0, n);
	return p;
}

/* copy n bytes of s into a NUL-terminated arena string */
char *
js_arena_strndup(js_arena *a, const char *s, size_t n)
{
	char	   *p = js_arena_alloc(a, n + 1);

	if (p)
	{
		if (n)
			memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

/* remember the current allocation point */
js_mark
js_arena_mark(js_arena *a)
{
	js_mark		m;

	m.chunk = a->cur;
	m.used = a->cur ? a->cur->used : 0;
	return m;
}

/* free (for reuse) everything allocated since mark m */
void
js_arena_release(js_arena *a, js_mark m)
{
	if (m.chunk == NULL)
	{
		if (a->first)
		{
			a->cur = a->first;
			a->cur->used = 0;
			/* keep the first chunk as "current but empty" */
		}
		return;
	}
	a->cur = m.chunk;
	a->cur->used = m.used;
}

/* free all chunks */
void
js_arena_destroy(js_arena *a)
{
	js_chunk   *c = a->first;

	while (c)
	{
		js_chunk   *n = c->next;

		js_afree(&a->al, c);
		c = n;
	}
	a->first = a->cur = NULL;
}

/* initialise an empty buffer */
void
js_buf_init(js_buf *b, const js_allocator *al)
{
	b->al = al;
	b->s = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

/* make room for n more bytes plus NUL */
static int
buf_reserve(js_buf *b, size_t n)
{
	size_t		need = b->len + n + 1;

	if (b->oom)
		return 0;
	if (need > b->cap)
	{
		size_t		nc = b->cap ? b->cap * 2 : 64;
		char	   *p;

		while (nc < need)
			nc *= 2;
		p = js_arealloc(b->al, b->s, nc);
		if (!p)
		{
			b->oom = 1;
			return 0;
		}
		b->s = p;
		b->cap = nc;
	}
	return 1;
}

/* append n bytes */
void
js_buf_add(js_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

/* append a NUL-terminated string */
void
js_buf_adds(js_buf *b, const char *s)
{
	js_buf_add(b, s, strlen(s));
}

/* append printf-formatted text (va_list form) */
void
js_buf_vprintf(js_buf *b, const char *fmt, va_list ap)
{
	char		tmp[256];
	va_list		ap2;
	int			n;

	va_copy(ap2, ap);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t) n < sizeof tmp)
	{
		js_buf_add(b, tmp, n);
		return;
	}
	if (!buf_reserve(b, n))
		return;
	vsnprintf(b->s + b->len, n + 1, fmt, ap);
	b->len += n;
}

/* append printf-formatted text */
void
js_buf_printf(js_buf *b, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	js_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* release the buffer memory */
void
js_buf_free(js_buf *b)
{
	js_afree(b->al, b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

/* append a segment list as a JSON pointer, root first */
void
js_buf_pointer(js_buf *b, const js_seg *seg)
{
	const js_seg *stack[64];
	const js_seg **all = stack;
	size_t		n = 0,
				cap = 64,
				i;

	for (const js_seg *s = seg; s; s = s->up)
	{
		if (n == cap)
		{
			const js_seg **nw;

			cap *= 2;
			nw = js_arealloc(b->al, all == stack ? NULL : (void *) all,
							 cap * sizeof(*all));
			if (!nw)
			{
				b->oom = 1;
				if (all != stack)
					js_afree(b->al, (void *) all);
				return;
			}
			if (all == stack)
				memcpy(nw, stack, sizeof stack);
			all = nw;
		}
		all[n++] = s;
	}
	for (i = n; i-- > 0;)
	{
		const js_seg *s = all[i];

		js_buf_add(b, "/", 1);
		if (s->s == NULL)
			js_buf_printf(b, "%zu", s->idx);
		else
		{
			size_t		st = 0;

			for (size_t k = 0; k < s->len; k++)
			{
				if (s->s[k] == '~' || s->s[k] == '/')
				{
					js_buf_add(b, s->s + st, k - st);
					js_buf_adds(b, s->s[k] == '~' ? "~0" : "~1");
					st = k + 1;
				}
			}
			js_buf_add(b, s->s + st, s->len - st);
		}
	}
	if (all != stack)
		js_afree(b->al, (void *) all);
}

/* FNV-1a style hash of bytes, seeded with h */
uint64_t
js_hash_bytes(const void *p, size_t n, uint64_t h)
{
	const unsigned char *c = p;

	if (h == 0)
		h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
	{
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* initialise an empty map */
void
js_hmap_init(js_hmap *m, const js_allocator *al)
{
	m->al = al;
	m->tab = NULL;
	m->cap = m->n = 0;
}

/* find the slot for key (empty slot if absent) */
static js_hent *
hmap_slot(const js_hmap *m, const void *key, size_t klen, uint64_t h)
{
	size_t		i = h & (m->cap - 1);

	for (;;)
	{
		js_hent    *e = &m->tab[i];

		if (e->key == NULL)
			return e;
		if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
			return e;
		i = (i + 1) & (m->cap - 1);
	}
}

/* insert or replace key -> val; 0 on out of memory */
int
js_hmap_put(js_hmap *m, const void *key, size_t klen, void *val)
{
	uint64_t	h = js_hash_bytes(key, klen, 0);
	js_hent    *e;

	if ((m->n + 1) * 2 > m->cap)
	{
		size_t		nc = m->cap ? m->cap * 2 : 32;
		js_hent    *old = m->tab;
		size_t		oc = m->cap;
		js_hent    *nt = js_amalloc(m->al, nc * sizeof(js_hent));

		if (!nt)
			return 0;
		memset(nt, 0, nc * sizeof(js_hent));
		m->tab = nt;
		m->cap = nc;
		for (size_t i = 0; i < oc; i++)
			if (old[i].key)
				*hmap_slot(m, old[i].key, old[i].klen, old[i].hash) = old[i];
		js_afree(m->al, old);
	}
	e = hmap_slot(m, key, klen, h);
	if (e->key == NULL)
	{
		e->key = key;
		e->klen = klen;
		e->hash = h;
		m->n++;
	}
	e->val = val;
	return 1;
}

/* look up key; NULL if absent */
void *
js_hmap_get(const js_hmap *m, const void *key, size_t klen)
{
	js_hent    *e;

	if (m->cap == 0)
		return NULL;
	e = hmap_slot(m, key, klen, js_hash_bytes(key, klen, 0));
	return e->key ? e->val : NULL;
}

/* free the table */
void
js_hmap_free(js_hmap *m)
{
	js_afree(m->al, m->tab);
	m->tab = NULL;
	m->cap = m->n = 0;
}
