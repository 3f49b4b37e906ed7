/*
 * js_uri.c - RFC 3986 reference resolution, fragment handling and JSON
 * pointer evaluation over engine values.
 */
#include "js_internal.h"

#include <string.h>

typedef struct uri_parts
{
	const char *scheme;
	size_t		scheme_len;
	const char *auth;
	size_t		auth_len;
	int			has_auth;
	const char *path;
	size_t		path_len;
	const char *query;
	size_t		query_len;
	int			has_query;
	const char *frag;
	size_t		frag_len;
	int			has_frag;
} uri_parts;

/* split a URI reference into its five components */
static void
uri_parse(const char *s, size_t n, uri_parts *u)
{
	size_t		i = 0,
				st;

	memset(u, 0, sizeof *u);
	/* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	for (i = 0; i < n; i++)
	{
		char		c = s[i];

		if (c == ':')
		{
			if (i > 0)
			{
				u->scheme = s;
				u->scheme_len = i;
				i++;
			}
			else
				i = 0;
			break;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))))
		{
			i = 0;
			break;
		}
	}
	if (i >= n && !u->scheme)
		i = 0;
	if (i + 1 < n && s[i] == '/' && s[i + 1] == '/')
	{
		i += 2;
		st = i;
		while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
			i++;
		u->has_auth = 1;
		u->auth = s + st;
		u->auth_len = i - st;
	}
	st = i;
	while (i < n && s[i] != '?' && s[i] != '#')
		i++;
	u->path = s + st;
	u->path_len = i - st;
	if (i < n && s[i] == '?')
	{
		st = ++i;
		while (i < n && s[i] != '#')
			i++;
		u->has_query = 1;
		u->query = s + st;
		u->query_len = i - st;
	}
	if (i < n && s[i] == '#')
	{
		u->has_frag = 1;
		u->frag = s + i + 1;
		u->frag_len = n - i - 1;
	}
}

/* RFC 3986 5.2.4: append path p with dot segments removed to out */
static void
remove_dots(js_buf *out, const char *p, size_t n)
{
	size_t		base = out->len;
	size_t		i = 0;

	while (i < n)
	{
		if (n - i >= 3 && memcmp(p + i, "../", 3) == 0)
			i += 3;
		else if (n - i >= 2 && memcmp(p + i, "./", 2) == 0)
			i += 2;
		else if (n - i >= 3 && memcmp(p + i, "/./", 3) == 0)
			i += 2;
		else if (n - i == 2 && memcmp(p + i, "/.", 2) == 0)
		{
			js_buf_add(out, "/", 1);
			i += 2;
		}
		else if ((n - i >= 4 && memcmp(p + i, "/../", 4) == 0) ||
				 (n - i == 3 && memcmp(p + i, "/..", 3) == 0))
		{
			size_t		k = out->len;

			while (k > base && out->s[k - 1] != '/')
				k--;
			if (k > base)
				k--;
			out->len = k;
			if (out->s)
				out->s[k] = 0;
			if (n - i == 3)
			{
				js_buf_add(out, "/", 1);
				i += 3;
			}
			else
				i += 3;
		}
		else if ((n - i == 1 && p[i] == '.') || (n - i == 2 && memcmp(p + i, "..", 2) == 0))
			i = n;
		else
		{
			size_t		j = i + (p[i] == '/' ? 1 : 0);

			while (j < n && p[j] != '/')
				j++;
			js_buf_add(out, p + i, j - i);
			i = j;
		}
	}
}

/* resolve reference 'ref' against 'base' (RFC 3986 5.2.2); arena string */
char *
js_uri_resolve(js_arena *a, const char *base, const char *ref, size_t reflen)
{
	uri_parts	b,
				r;
	js_buf		out;
	char	   *res;

	uri_parse(ref, reflen, &r);
	uri_parse(base ? base : "", base ? strlen(base) : 0, &b);
	js_buf_init(&out, &a->al);
	if (r.scheme)
	{
		js_buf_add(&out, r.scheme, r.scheme_len);
		js_buf_add(&out, ":", 1);
		if (r.has_auth)
		{
			js_buf_add(&out, "//", 2);
			js_buf_add(&out, r.auth, r.auth_len);
		}
		remove_dots(&out, r.path, r.path_len);
		if (r.has_query)
		{
			js_buf_add(&out, "?", 1);
			js_buf_add(&out, r.query, r.query_len);
		}
	}
	else
	{
		if (b.scheme)
		{
			js_buf_add(&out, b.scheme, b.scheme_len);
			js_buf_add(&out, ":", 1);
		}
		if (r.has_auth)
		{
			js_buf_add(&out, "//", 2);
			js_buf_add(&out, r.auth, r.auth_len);
			remove_dots(&out, r.path, r.path_len);
			if (r.has_query)
			{
				js_buf_add(&out, "?", 1);
				js_buf_add(&out, r.query, r.query_len);
			}
		}
		else
		{
			if (b.has_auth)
			{
				js_buf_add(&out, "//", 2);
				js_buf_add(&out, b.auth, b.auth_len);
			}
			if (r.path_len == 0)
			{
				js_buf_add(&out, b.path, b.path_len);
				if (r.has_query || b.has_query)
				{
					js_buf_add(&out, "?", 1);
					if (r.has_query)
						js_buf_add(&out, r.query, r.query_len);
					else
						js_buf_add(&out, b.query, b.query_len);
				}
			}
			else
			{
				if (r.path[0] == '/')
					remove_dots(&out, r.path, r.path_len);
				else
				{
					js_buf		m;

					js_buf_init(&m, &a->al);
					if (b.has_auth && b.path_len == 0)
						js_buf_add(&m, "/", 1);
					else
					{
						size_t		k = b.path_len;

						while (k > 0 && b.path[k - 1] != '/')
							k--;
						js_buf_add(&m, b.path, k);
					}
					js_buf_add(&m, r.path, r.path_len);
					remove_dots(&out, m.s ? m.s : "", m.len);
					if (m.oom)
						out.oom = 1;
					js_buf_free(&m);
				}
				if (r.has_query)
				{
					js_buf_add(&out, "?", 1);
					js_buf_add(&out, r.query, r.query_len);
				}
			}
		}
	}
	if (r.has_frag && r.frag_len > 0)
	{
		js_buf_add(&out, "#", 1);
		js_buf_add(&out, r.frag, r.frag_len);
	}
	if (out.oom)
	{
		js_buf_free(&out);
		return NULL;
	}
	res = js_arena_strndup(a, out.s ? out.s : "", out.len);
	js_buf_free(&out);
	return res;
}

/* length of the part before '#'; *frag points after '#' (or to "") */
size_t
js_uri_split(const char *uri, const char **frag)
{
	const char *h = strchr(uri, '#');

	if (!h)
	{
		*frag = uri + strlen(uri);
		return strlen(uri);
	}
	*frag = h + 1;
	return (size_t) (h - uri);
}

/* value of a hex digit or -1 */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* percent-decode s[0..n) into a new arena string */
char *
js_pct_decode(js_arena *a, const char *s, size_t n, size_t *outlen)
{
	char	   *o = js_arena_alloc(a, n + 1);
	size_t		k = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++)
	{
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
		{
			o[k++] = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		}
		else
			o[k++] = s[i];
	}
	o[k] = 0;
	if (outlen)
		*outlen = k;
	return o;
}

/* follow a JSON pointer inside v; NULL if it does not exist */
const js_val *
js_pointer_get(const js_val *v, const char *ptr, size_t len)
{
	size_t		i = 0;

	if (len == 0)
		return v;
	if (ptr[0] != '/')
		return NULL;
	while (i < len && v)
	{
		char		tok[256];
		size_t		tl = 0,
					j = i + 1;
		char	   *t = tok;
		size_t		cap = sizeof tok;

		while (j < len && ptr[j] != '/')
			j++;
		if (j - i - 1 >= cap)
			return NULL;		/* absurdly long token */
		for (size_t k = i + 1; k < j; k++)
		{
			if (ptr[k] == '~' && k + 1 < j && (ptr[k + 1] == '0' || ptr[k + 1] == '1'))
			{
				t[tl++] = ptr[k + 1] == '0' ? '~' : '/';
				k++;
			}
			else
				t[tl++] = ptr[k];
		}
		if (v->type == JS_OBJECT)
			v = js_val_get(v, t, tl);
		else if (v->type == JS_ARRAY)
		{
			size_t		idx = 0;

			if (tl == 0 || (tl > 1 && t[0] == '0'))
				return NULL;
			for (size_t k = 0; k < tl; k++)
			{
				if (t[k] < '0' || t[k] > '9')
					return NULL;
				idx = idx * 10 + (size_t) (t[k] - '0');
				if (idx > v->n)
					return NULL;
			}
			v = idx < v->n ? v->u.items[idx] : NULL;
		}
		else
			return NULL;
		i = j;
	}
	return v;
}
