/*
 * js_value.c - engine-owned JSON values (js_val): accessor over them,
 * deep copy from any accessor, a small JSON text parser (for embedded
 * meta-schemas), JSON equality and hashing.
 */
#include "js_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define V(n) ((const js_val *) (n).p)

/* wrap a js_val pointer in a node */
js_node
js_val_node(const js_val *v)
{
	js_node		n;

	n.p = v;
	n.q = NULL;
	n.i = 0;
	return n;
}

/* accessor: type */
static js_type
v_type(void *ctx, js_node n)
{
	(void) ctx;
	return (js_type) V(n)->type;
}

/* accessor: boolean value */
static int
v_boolean(void *ctx, js_node n)
{
	(void) ctx;
	return V(n)->u.b;
}

/* accessor: number value */
static void
v_number(void *ctx, js_node n, double *out, int *is_int)
{
	(void) ctx;
	*out = V(n)->u.num;
	*is_int = V(n)->is_int;
}

/* accessor: exact number text, when known */
static int
v_number_text(void *ctx, js_node n, const char **s, size_t *len)
{
	(void) ctx;
	if (!V(n)->numtext)
		return 0;
	*s = V(n)->numtext;
	*len = V(n)->numtext_len;
	return 1;
}

/* accessor: string bytes */
static void
v_string(void *ctx, js_node n, const char **s, size_t *len)
{
	(void) ctx;
	*s = V(n)->u.str;
	*len = V(n)->n;
}

/* accessor: array/object size */
static size_t
v_size(void *ctx, js_node n)
{
	(void) ctx;
	return V(n)->n;
}

/* accessor: array element */
static int
v_array_get(void *ctx, js_node n, size_t i, js_node *out)
{
	(void) ctx;
	if (i >= V(n)->n)
		return 0;
	*out = js_val_node(V(n)->u.items[i]);
	return 1;
}

/* compare two keys by (length, bytes) */
static int
keycmp(const char *a, size_t al, const char *b, size_t bl)
{
	if (al != bl)
		return al < bl ? -1 : 1;
	return memcmp(a, b, al);
}

/* look up a member of an internal object (last duplicate wins) */
js_val *
js_val_get(const js_val *o, const char *key, size_t klen)
{
	if (o->type != JS_OBJECT)
		return NULL;
	if (o->sorted)
	{
		size_t		lo = 0,
					hi = o->n;
		js_val	   *found = NULL;

		while (lo < hi)
		{
			size_t		mid = (lo + hi) / 2;
			const js_member *m = &o->u.members[o->sorted[mid]];
			int			c = keycmp(m->key, m->klen, key, klen);

			if (c < 0)
				lo = mid + 1;
			else
			{
				if (c == 0)
					found = m->val;
				hi = mid;
			}
		}
		/* among equal keys, take the last in document order */
		while (lo < o->n)
		{
			const js_member *m = &o->u.members[o->sorted[lo]];

			if (keycmp(m->key, m->klen, key, klen) != 0)
				break;
			found = m->val;
			lo++;
		}
		return found;
	}
	for (size_t i = o->n; i-- > 0;)
		if (o->u.members[i].klen == klen && memcmp(o->u.members[i].key, key, klen) == 0)
			return o->u.members[i].val;
	return NULL;
}

/* accessor: member lookup */
static int
v_object_get(void *ctx, js_node n, const char *key, size_t klen, js_node *out)
{
	js_val	   *v = js_val_get(V(n), key, klen);

	(void) ctx;
	if (!v)
		return 0;
	*out = js_val_node(v);
	return 1;
}

/* accessor: member iteration in document order */
static int
v_object_next(void *ctx, js_node n, js_iter *it, const char **key, size_t *klen,
			  js_node *out)
{
	size_t		i = it->state[0];

	(void) ctx;
	if (i >= V(n)->n)
		return 0;
	*key = V(n)->u.members[i].key;
	*klen = V(n)->u.members[i].klen;
	*out = js_val_node(V(n)->u.members[i].val);
	it->state[0] = i + 1;
	return 1;
}

const js_accessor js_val_accessor = {
	NULL, v_type, v_boolean, v_number, v_number_text, v_string, v_size,
	v_array_get, v_size, v_object_get, v_object_next
};

/* build the sorted member index of a large object */
static int
build_sorted(js_arena *a, js_val *v)
{
	if (v->n <= 8 || v->n > UINT32_MAX)
		return 1;
	v->sorted = js_arena_alloc(a, v->n * sizeof(uint32_t));
	if (!v->sorted)
		return 0;
	for (size_t i = 0; i < v->n; i++)
		v->sorted[i] = (uint32_t) i;
	{
		/* stable bottom-up merge sort (equal keys keep document order) */
		uint32_t   *tmp = js_arena_alloc(a, v->n * sizeof(uint32_t));
		size_t		w,
					i,
					n = v->n;

		if (!tmp)
			return 0;
		for (w = 1; w < n; w *= 2)
		{
			for (i = 0; i < n; i += 2 * w)
			{
				size_t		l = i,
							m = i + w < n ? i + w : n,
							r = i + 2 * w < n ? i + 2 * w : n,
							x = l,
							y = m,
							k = l;

				while (x < m && y < r)
				{
					const js_member *mx = &v->u.members[v->sorted[x]];
					const js_member *my = &v->u.members[v->sorted[y]];

					if (keycmp(mx->key, mx->klen, my->key, my->klen) <= 0)
						tmp[k++] = v->sorted[x++];
					else
						tmp[k++] = v->sorted[y++];
				}
				while (x < m)
					tmp[k++] = v->sorted[x++];
				while (y < r)
					tmp[k++] = v->sorted[y++];
			}
			memcpy(v->sorted, tmp, n * sizeof(uint32_t));
		}
	}
	return 1;
}

/* copy frame for the iterative deep copy */
typedef struct copy_frame
{
	js_node		src;
	js_val	   *dst;
	size_t		i;
	js_iter		it;
} copy_frame;

/* copy stack used by js_val_copy */
typedef struct copy_stack
{
	copy_frame *st;
	int			sp;
	int			cap;
} copy_stack;

/* fill d from node s; containers are pushed on the copy stack */
static int
copy_node(js_arena *a, const js_accessor *acc, js_node s, js_val *d,
		  copy_stack *cs, int max_depth, const char **err)
{
	js_type		t = acc->type(acc->ctx, s);

	memset(d, 0, sizeof *d);
	d->type = (uint8_t) t;
	switch (t)
	{
		case JS_NULL:
			break;
		case JS_BOOL:
			d->u.b = acc->boolean(acc->ctx, s) ? 1 : 0;
			break;
		case JS_NUMBER:
			{
				int			ii = 0;
				const char *nt;
				size_t		nl;

				js_dec		dec;

				acc->number(acc->ctx, s, &d->u.num, &ii);
				/* keep the exact text; a text-less adapter's double gives its shortest form */
				if (acc->number_text && acc->number_text(acc->ctx, s, &nt, &nl) &&
					js_dec_parse(nt, nl, &dec))
					d->numtext = js_arena_strndup(a, nt, nl);
				else
				{
					char		buf[48];

					js_dec_from_double(d->u.num, buf, sizeof buf, &dec);
					nl = strlen(buf);
					d->numtext = js_arena_strndup(a, buf, nl);
				}
				d->numtext_len = nl;
				if (d->numtext && js_dec_parse(d->numtext, nl, &dec))
					d->is_int = (uint8_t) js_dec_is_int(&dec);
				break;
			}
		case JS_STRING:
			{
				const char *ss;
				size_t		sl;

				acc->string(acc->ctx, s, &ss, &sl);
				d->u.str = js_arena_strndup(a, ss, sl);
				d->n = sl;
				break;
			}
		case JS_ARRAY:
		case JS_OBJECT:
			if (cs->sp >= max_depth)
			{
				*err = "document nesting exceeds depth limit";
				return 0;
			}
			if (t == JS_ARRAY)
			{
				d->n = acc->array_size(acc->ctx, s);
				d->u.items = js_arena_alloc(a, (d->n ? d->n : 1) * sizeof(js_val *));
			}
			else
			{
				d->n = acc->object_size(acc->ctx, s);
				d->u.members = js_arena_alloc(a, (d->n ? d->n : 1) * sizeof(js_member));
			}
			if (!d->u.items)
				break;
			if (cs->sp == cs->cap)
			{
				copy_frame *ns = js_arealloc(&a->al, cs->st,
											 sizeof(copy_frame) * (size_t) cs->cap * 2);

				if (!ns)
				{
					a->oom = 1;
					break;
				}
				cs->st = ns;
				cs->cap *= 2;
			}
			cs->st[cs->sp].src = s;
			cs->st[cs->sp].dst = d;
			cs->st[cs->sp].i = 0;
			memset(&cs->st[cs->sp].it, 0, sizeof(js_iter));
			cs->sp++;
			break;
	}
	if (a->oom)
	{
		*err = "out of memory";
		return 0;
	}
	return 1;
}

/* deep-copy a document read through acc into arena values (no recursion) */
js_val *
js_val_copy(js_arena *a, const js_accessor *acc, js_node n, int max_depth,
			const char **err)
{
	copy_stack	cs;
	js_val	   *root;
	js_val	   *result = NULL;

	*err = NULL;
	cs.sp = 0;
	cs.cap = 32;
	cs.st = js_amalloc(&a->al, sizeof(copy_frame) * (size_t) cs.cap);
	root = js_arena_alloc(a, sizeof(js_val));
	if (!cs.st || !root)
	{
		a->oom = 1;
		*err = "out of memory";
		goto done;
	}
	if (!copy_node(a, acc, n, root, &cs, max_depth, err))
		goto done;
	while (cs.sp > 0)
	{
		copy_frame *f = &cs.st[cs.sp - 1];
		js_val	   *d = f->dst;
		js_node		child;
		js_val	   *cv;

		if (f->i >= d->n)
		{
			if (d->type == JS_OBJECT && !build_sorted(a, d))
			{
				*err = "out of memory";
				goto done;
			}
			cs.sp--;
			continue;
		}
		cv = js_arena_alloc(a, sizeof(js_val));
		if (!cv)
		{
			*err = "out of memory";
			goto done;
		}
		if (d->type == JS_ARRAY)
		{
			if (!acc->array_get(acc->ctx, f->src, f->i, &child))
				goto bad;
			d->u.items[f->i] = cv;
		}
		else
		{
			const char *k;
			size_t		kl;

			if (!acc->object_next(acc->ctx, f->src, &f->it, &k, &kl, &child))
				goto bad;
			d->u.members[f->i].key = js_arena_strndup(a, k, kl);
			d->u.members[f->i].klen = kl;
			d->u.members[f->i].val = cv;
		}
		f->i++;
		if (!copy_node(a, acc, child, cv, &cs, max_depth, err))
			goto done;
	}
	if (a->oom)
		*err = "out of memory";
	else
		result = root;
	goto done;
bad:
	*err = "accessor returned inconsistent sizes";
done:
	js_afree(&a->al, cs.st);
	return result;
}

/* ---- JSON text parser (trusted, small inputs; depth limited) ---- */
typedef struct parser
{
	js_arena   *a;
	const char *p;
	const char *end;
	int			depth;
	int			max_depth;
} parser;

/* skip whitespace */
static void
skip_ws(parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* append code point cp as UTF-8 */
static size_t
put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80)
	{
		o[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		o[0] = (char) (0xC0 | (cp >> 6));
		o[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		o[0] = (char) (0xE0 | (cp >> 12));
		o[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char) (0xF0 | (cp >> 18));
	o[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* parse 4 hex digits */
static int
hex4(const char *p, unsigned *out)
{
	unsigned	v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return 0;
	}
	*out = v;
	return 1;
}

/* parse a string literal into an arena buffer */
static int
parse_string(parser *ps, const char **out, size_t *outlen)
{
	const char *s = ++ps->p;
	char	   *buf,
			   *o;

	while (ps->p < ps->end && *ps->p != '"')
		ps->p += (*ps->p == '\\') ? 2 : 1;
	if (ps->p >= ps->end)
		return 0;
	buf = js_arena_alloc(ps->a, (size_t) (ps->p - s) + 1);
	if (!buf)
		return 0;
	o = buf;
	for (const char *q = s; q < ps->p; q++)
	{
		if (*q != '\\')
		{
			*o++ = *q;
			continue;
		}
		q++;
		switch (*q)
		{
			case 'n': *o++ = '\n'; break;
			case 't': *o++ = '\t'; break;
			case 'r': *o++ = '\r'; break;
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'u':
				{
					unsigned	cp,
								lo;

					if (ps->p - q < 5 || !hex4(q + 1, &cp))
						return 0;
					q += 4;
					if (cp >= 0xD800 && cp < 0xDC00 && ps->p - q >= 7 && q[1] == '\\' &&
						q[2] == 'u' && hex4(q + 3, &lo) && lo >= 0xDC00 && lo < 0xE000)
					{
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						q += 6;
					}
					o += put_utf8(o, cp);
					break;
				}
			default: *o++ = *q; break;
		}
	}
	*o = 0;
	ps->p++;
	*out = buf;
	*outlen = (size_t) (o - buf);
	return 1;
}

/* parse one JSON value */
static js_val *
parse_value(parser *ps)
{
	js_val	   *v;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return NULL;
	v = js_arena_zalloc(ps->a, sizeof(js_val));
	if (!v)
		return NULL;
	if (*ps->p == '{' || *ps->p == '[')
	{
		int			obj = *ps->p == '{';
		size_t		cap = 4;

		if (++ps->depth > ps->max_depth)
			return NULL;
		ps->p++;
		v->type = obj ? JS_OBJECT : JS_ARRAY;
		if (obj)
			v->u.members = js_arena_alloc(ps->a, cap * sizeof(js_member));
		else
			v->u.items = js_arena_alloc(ps->a, cap * sizeof(js_val *));
		if (!v->u.items)
			return NULL;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == (obj ? '}' : ']'))
		{
			ps->p++;
			ps->depth--;
			return v;
		}
		for (;;)
		{
			const char *k = NULL;
			size_t		kl = 0;
			js_val	   *c;

			if (obj)
			{
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != '"' || !parse_string(ps, &k, &kl))
					return NULL;
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != ':')
					return NULL;
				ps->p++;
			}
			c = parse_value(ps);
			if (!c)
				return NULL;
			if (v->n == cap)
			{
				size_t		esz = obj ? sizeof(js_member) : sizeof(js_val *);
				void	   *nw = js_arena_alloc(ps->a, cap * 2 * esz);

				if (!nw)
					return NULL;
				memcpy(nw, obj ? (void *) v->u.members : (void *) v->u.items, cap * esz);
				if (obj)
					v->u.members = nw;
				else
					v->u.items = nw;
				cap *= 2;
			}
			if (obj)
			{
				v->u.members[v->n].key = k;
				v->u.members[v->n].klen = kl;
				v->u.members[v->n].val = c;
			}
			else
				v->u.items[v->n] = c;
			v->n++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',')
			{
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == (obj ? '}' : ']'))
			{
				ps->p++;
				break;
			}
			return NULL;
		}
		ps->depth--;
		if (obj && !build_sorted(ps->a, v))
			return NULL;
		return v;
	}
	if (*ps->p == '"')
	{
		v->type = JS_STRING;
		return parse_string(ps, &v->u.str, &v->n) ? v : NULL;
	}
	if (ps->end - ps->p >= 4 && memcmp(ps->p, "true", 4) == 0)
	{
		v->type = JS_BOOL;
		v->u.b = 1;
		ps->p += 4;
		return v;
	}
	if (ps->end - ps->p >= 5 && memcmp(ps->p, "false", 5) == 0)
	{
		v->type = JS_BOOL;
		ps->p += 5;
		return v;
	}
	if (ps->end - ps->p >= 4 && memcmp(ps->p, "null", 4) == 0)
	{
		v->type = JS_NULL;
		ps->p += 4;
		return v;
	}
	{
		const char *start = ps->p;
		js_dec		dec;
		char	   *text;

		while (ps->p < ps->end && *ps->p && strchr("+-0123456789.eE", *ps->p))
			ps->p++;
		text = js_arena_strndup(ps->a, start, (size_t) (ps->p - start));
		if (!text || !js_dec_parse(text, (size_t) (ps->p - start), &dec))
			return NULL;
		v->type = JS_NUMBER;
		v->u.num = strtod(text, NULL);
		v->numtext = text;
		v->numtext_len = (size_t) (ps->p - start);
		v->is_int = (uint8_t) js_dec_is_int(&dec);
		return v;
	}
}

/* parse JSON text into arena values; NULL on error */
js_val *
js_val_parse(js_arena *a, const char *text, size_t len, int max_depth)
{
	parser		ps;
	js_val	   *v;

	ps.a = a;
	ps.p = text;
	ps.end = text + len;
	ps.depth = 0;
	ps.max_depth = max_depth;
	v = parse_value(&ps);
	if (!v)
		return NULL;
	skip_ws(&ps);
	return ps.p == ps.end ? v : NULL;
}

/* ---- equality and hashing ---- */

/* JSON equality of two nodes (numbers by value); -1 if nested too deep */
int
js_equal(const js_accessor *aa, js_node a, const js_accessor *ab, js_node b,
		 int depth, const js_stack *st)
{
	js_type		ta = aa->type(aa->ctx, a),
				tb = ab->type(ab->ctx, b);

	if (ta != tb)
		return 0;
	switch (ta)
	{
		case JS_NULL:
			return 1;
		case JS_BOOL:
			return !aa->boolean(aa->ctx, a) == !ab->boolean(ab->ctx, b);
		case JS_NUMBER:
			{
				js_num		x,
							y;

				js_num_read(aa, a, &x);
				js_num_read(ab, b, &y);
				return js_dec_cmp(&x.d, &y.d) == 0;
			}
		case JS_STRING:
			{
				const char *s1,
						   *s2;
				size_t		l1,
							l2;

				aa->string(aa->ctx, a, &s1, &l1);
				ab->string(ab->ctx, b, &s2, &l2);
				return l1 == l2 && memcmp(s1, s2, l1) == 0;
			}
		case JS_ARRAY:
			{
				size_t		n = aa->array_size(aa->ctx, a);

				if (depth <= 0 || js_stack_over(st))
					return -1;
				if (n != ab->array_size(ab->ctx, b))
					return 0;
				for (size_t i = 0; i < n; i++)
				{
					js_node		x,
								y;
					int			r;

					if (!aa->array_get(aa->ctx, a, i, &x) || !ab->array_get(ab->ctx, b, i, &y))
						return 0;
					r = js_equal(aa, x, ab, y, depth - 1, st);
					if (r != 1)
						return r;
				}
				return 1;
			}
		case JS_OBJECT:
			{
				size_t		n = aa->object_size(aa->ctx, a);
				js_iter		it;
				const char *k;
				size_t		kl;
				js_node		x,
							y;

				if (depth <= 0 || js_stack_over(st))
					return -1;
				if (n != ab->object_size(ab->ctx, b))
					return 0;
				memset(&it, 0, sizeof it);
				while (aa->object_next(aa->ctx, a, &it, &k, &kl, &x))
				{
					int			r;

					if (!ab->object_get(ab->ctx, b, k, kl, &y))
						return 0;
					r = js_equal(aa, x, ab, y, depth - 1, st);
					if (r != 1)
						return r;
				}
				return 1;
			}
	}
	return 0;
}

/* hash of a node consistent with js_equal (objects order-independent) */
uint64_t
js_value_hash(const js_accessor *acc, js_node n, int depth, const js_stack *st)
{
	js_type		t = acc->type(acc->ctx, n);
	uint64_t	h = 0x9E3779B97F4A7C15ULL * (t + 1);

	switch (t)
	{
		case JS_NULL:
			return h;
		case JS_BOOL:
			return h + (acc->boolean(acc->ctx, n) ? 1 : 2);
		case JS_NUMBER:
			{
				js_num		x;

				js_num_read(acc, n, &x);
				return js_dec_hash(&x.d, h);
			}
		case JS_STRING:
			{
				const char *s;
				size_t		l;

				acc->string(acc->ctx, n, &s, &l);
				return js_hash_bytes(s, l, h);
			}
		case JS_ARRAY:
			{
				size_t		sz = acc->array_size(acc->ctx, n);

				if (depth <= 0 || js_stack_over(st))
					return h;
				for (size_t i = 0; i < sz; i++)
				{
					js_node		c;
					uint64_t	ch;

					if (!acc->array_get(acc->ctx, n, i, &c))
						break;
					ch = js_value_hash(acc, c, depth - 1, st);
					h = js_hash_bytes(&ch, sizeof ch, h);
				}
				return h;
			}
		case JS_OBJECT:
			{
				js_iter		it;
				const char *k;
				size_t		kl;
				js_node		c;
				uint64_t	sum = 0;

				if (depth <= 0 || js_stack_over(st))
					return h;
				memset(&it, 0, sizeof it);
				while (acc->object_next(acc->ctx, n, &it, &k, &kl, &c))
				{
					uint64_t	ch = js_value_hash(acc, c, depth - 1, st);

					sum += js_hash_bytes(k, kl, ch ^ 0x5bd1e995);
				}
				return h ^ sum;
			}
	}
	return h;
}
