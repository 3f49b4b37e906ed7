/*
 * js_format.c - "format" checkers used when format assertion is enabled:
 * date-time, date, time, duration, email, idn-email, hostname,
 * idn-hostname, ipv4, ipv6, uri, uri-reference, iri, iri-reference,
 * uri-template, uuid, regex, json-pointer, relative-json-pointer.
 */
#include "js_internal.h"

#include <string.h>

#define ISDIGIT(c) ((c) >= '0' && (c) <= '9')
#define ISALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define ISHEX(c) (ISDIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))

/* parse exactly n digits at s into *v */
static int
digits(const char *s, size_t n, int *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++)
	{
		if (!ISDIGIT(s[i]))
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

/* days in month m of year y */
static int
mdays(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* RFC 3339 full-date */
static int
fmt_date(const char *s, size_t n, js_regex_env *env)
{
	int			y,
				m,
				d;

	(void) env;
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return 0;
	return m >= 1 && m <= 12 && d >= 1 && d <= mdays(y, m);
}

/* RFC 3339 full-time (offset required); leap seconds only at 23:59 UTC */
static int
fmt_time(const char *s, size_t n, js_regex_env *env)
{
	int			h,
				mi,
				se,
				oh = 0,
				om = 0,
				sign = 0;
	size_t		i = 8;

	(void) env;
	if (n < 9 || s[2] != ':' || s[5] != ':')
		return 0;
	if (!digits(s, 2, &h) || !digits(s + 3, 2, &mi) || !digits(s + 6, 2, &se))
		return 0;
	if (i < n && s[i] == '.')
	{
		i++;
		if (i >= n || !ISDIGIT(s[i]))
			return 0;
		while (i < n && ISDIGIT(s[i]))
			i++;
	}
	if (i >= n)
		return 0;
	if (s[i] == 'Z' || s[i] == 'z')
	{
		if (i + 1 != n)
			return 0;
	}
	else if (s[i] == '+' || s[i] == '-')
	{
		sign = s[i] == '+' ? 1 : -1;
		if (n - i != 6 || s[i + 3] != ':' || !digits(s + i + 1, 2, &oh) ||
			!digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return 0;
	}
	else
		return 0;
	if (h > 23 || mi > 59 || se > 60)
		return 0;
	if (se == 60)
	{
		/* convert to UTC and require 23:59 */
		int			tot = h * 60 + mi - sign * (oh * 60 + om);

		tot = ((tot % 1440) + 1440) % 1440;
		if (tot != 23 * 60 + 59)
			return 0;
	}
	return 1;
}

/* RFC 3339 date-time */
static int
fmt_date_time(const char *s, size_t n, js_regex_env *env)
{
	if (n < 20 || (s[10] != 'T' && s[10] != 't'))
		return 0;
	return fmt_date(s, 10, env) && fmt_time(s + 11, n - 11, env);
}

/* ISO 8601 duration (RFC 3339 appendix A) */
static int
fmt_duration(const char *s, size_t n, js_regex_env *env)
{
	size_t		i = 1;
	int			in_time = 0,
				any = 0,
				weeks = 0,
				other = 0;
	const char *order_date = "YMD",
			   *order_time = "HMS";
	int			last = -1;

	(void) env;
	if (n < 2 || s[0] != 'P')
		return 0;
	while (i < n)
	{
		size_t		st = i;
		const char *p;

		if (s[i] == 'T')
		{
			if (in_time)
				return 0;
			in_time = 1;
			last = -1;
			i++;
			if (i >= n)
				return 0;
			continue;
		}
		while (i < n && ISDIGIT(s[i]))
			i++;
		if (i == st || i >= n)
			return 0;
		if (!in_time && s[i] == 'W')
		{
			weeks = 1;
			i++;
			any = 1;
			continue;
		}
		p = strchr(in_time ? order_time : order_date, s[i]);
		if (!p || s[i] == 0)
			return 0;
		/* components must be contiguous: Y[M[D]], M[D], D; H[M[S]], M[S], S */
		if ((int) (p - (in_time ? order_time : order_date)) <= last ||
			(last >= 0 && (int) (p - (in_time ? order_time : order_date)) != last + 1))
			return 0;
		last = (int) (p - (in_time ? order_time : order_date));
		other = 1;
		any = 1;
		i++;
	}
	if (!any || (weeks && other))
		return 0;
	/* "PT" alone or trailing T without components is invalid */
	if (in_time && s[n - 1] == 'T')
		return 0;
	{
		/* the time part must have at least one component */
		const char *t = memchr(s, 'T', n);

		if (t && (size_t) (t - s) == n - 1)
			return 0;
	}
	return 1;
}

/*
 * draft-04 / draft-06 hostname (RFC 1034 as RFC 1123 relaxed it): LDH
 * labels of at most 63 octets, 253 in all; those drafts predate IDNA2008,
 * so "--" anywhere in a label is allowed
 */
static int
hostname_rfc1034(const char *s, size_t n)
{
	size_t		i = 0;

	if (n == 0 || n > 253)
		return 0;
	while (i <= n)
	{
		size_t		st = i;

		while (i < n && s[i] != '.')
		{
			char		c = s[i];

			if (!(ISALPHA(c) || ISDIGIT(c) || c == '-'))
				return 0;
			i++;
		}
		if (i - st == 0 || i - st > 63 || s[st] == '-' || s[i - 1] == '-')
			return 0;
		i++;
	}
	return 1;
}

/* hostname format of draft-04 and draft-06 */
static int
fmt_hostname_rfc1034(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return hostname_rfc1034(s, n);
}

/* hostname format: ASCII labels, A-labels judged by IDNA2008 (js_format_idn.c) */
static int
fmt_hostname(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return js_hostname_valid(s, n, 0);
}

/* idn-hostname: U-labels too, judged by IDNA2008 (js_format_idn.c) */
static int
fmt_idn_hostname(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return js_hostname_valid(s, n, 1);
}

/* dotted-quad IPv4 without leading zeros */
static int
ipv4(const char *s, size_t n)
{
	size_t		i = 0;

	for (int part = 0; part < 4; part++)
	{
		size_t		st = i;
		int			v = 0;

		while (i < n && ISDIGIT(s[i]) && i - st < 3)
			v = v * 10 + (s[i++] - '0');
		if (i == st || v > 255 || (i - st > 1 && s[st] == '0'))
			return 0;
		if (part < 3)
		{
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == n;
}

/* ipv4 format */
static int
fmt_ipv4(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return ipv4(s, n);
}

/* RFC 4291 IPv6 text form (no zone id) */
static int
ipv6(const char *s, size_t n)
{
	int			groups = 0,
				dbl = 0;
	size_t		i = 0;

	if (n < 2)
		return 0;
	if (s[0] == ':')
	{
		if (s[1] != ':')
			return 0;
		dbl = 1;
		i = 2;
		if (i == n)
			return 1;
	}
	while (i < n)
	{
		size_t		st = i;

		while (i < n && ISHEX(s[i]))
			i++;
		if (i < n && s[i] == '.')
		{
			/* embedded IPv4 at the end */
			if (!ipv4(s + st, n - st))
				return 0;
			groups += 2;
			i = n;
			break;
		}
		if (i - st == 0 || i - st > 4)
			return 0;
		groups++;
		if (i == n)
			break;
		if (s[i] != ':')
			return 0;
		i++;
		if (i < n && s[i] == ':')
		{
			if (dbl)
				return 0;
			dbl = 1;
			i++;
			if (i == n)
				break;
		}
		else if (i == n)
			return 0;
	}
	return dbl ? groups <= 7 : groups == 8;
}

/* ipv6 format */
static int
fmt_ipv6(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return ipv6(s, n);
}

/* email (RFC 5321 mailbox subset); idn allows non-ASCII */
static int
email(const char *s, size_t n, int idn)
{
	const char *at = NULL;
	size_t		ll;

	for (size_t i = n; i-- > 0;)
		if (s[i] == '@')
		{
			at = s + i;
			break;
		}
	if (!at)
		return 0;
	ll = (size_t) (at - s);
	if (ll == 0 || ll == n - 1)
		return 0;
	if (s[0] == '"')
	{
		if (ll < 2 || s[ll - 1] != '"')
			return 0;
	}
	else
	{
		if (s[0] == '.' || s[ll - 1] == '.')
			return 0;
		for (size_t i = 0; i < ll; i++)
		{
			unsigned char c = (unsigned char) s[i];

			if (c == '.' && s[i + 1] == '.')
				return 0;
			if (c >= 0x80 ? !idn : !(ISALPHA(c) || ISDIGIT(c) || strchr(".!#$%&'*+-/=?^_`{|}~", c)))
				return 0;
		}
	}
	{
		const char *d = at + 1;
		size_t		dl = n - ll - 1;

		if (d[0] == '[')
		{
			if (d[dl - 1] != ']')
				return 0;
			if (dl > 7 && memcmp(d + 1, "IPv6:", 5) == 0)
				return ipv6(d + 6, dl - 7);
			return ipv4(d + 1, dl - 2);
		}
		return js_hostname_valid(d, dl, idn ? 2 : 0);
	}
}

/* email format */
static int
fmt_email(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return email(s, n, 0);
}

/* idn-email format */
static int
fmt_idn_email(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return email(s, n, 1);
}

/* RFC 3986 URI / IRI checks; need_scheme for absolute forms */
static int
uri_check(const char *s, size_t n, int need_scheme, int iri)
{
	size_t		i = 0,
				auth_end = 0;
	int			has_scheme = 0;

	if (n > 0 && ISALPHA(s[0]))
	{
		size_t		j = 1;

		while (j < n && (ISALPHA(s[j]) || ISDIGIT(s[j]) || s[j] == '+' || s[j] == '-' || s[j] == '.'))
			j++;
		if (j < n && s[j] == ':')
		{
			has_scheme = 1;
			i = j + 1;
		}
	}
	if (need_scheme && !has_scheme)
		return 0;
	if (!has_scheme)
	{
		/* a relative reference's first segment must not contain ':' */
		for (size_t j = 0; j < n && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++)
			if (s[j] == ':')
				return 0;
	}
	if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/')
	{
		size_t		st = i + 2,
					e = st;

		while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#')
			e++;
		auth_end = e;
		/* authority: [userinfo@]host[:port] */
		{
			const char *a = s + st;
			size_t		al = e - st;
			const char *at = memchr(a, '@', al);
			const char *h = at ? at + 1 : a;
			size_t		hl = al - (size_t) (h - a);

			if (at && memchr(a, '[', (size_t) (at - a)))
				return 0;
			if (at && memchr(at + 1, '@', al - (size_t) (at - a) - 1))
				return 0;
			if (hl > 0 && h[0] == '[')
			{
				const char *rb = memchr(h, ']', hl);

				if (!rb)
					return 0;
				if (h[1] == 'v' || h[1] == 'V')
				{
					/* IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
					const char *q = h + 2;

					if (q >= rb || !ISHEX(*q))
						return 0;
					while (q < rb && ISHEX(*q))
						q++;
					if (q >= rb - 1 || *q != '.')
						return 0;
				}
				else if (!ipv6(h + 1, (size_t) (rb - h - 1)))
					return 0;
				if ((size_t) (rb - h) + 1 < hl && rb[1] != ':')
					return 0;
			}
			else
			{
				const char *colon = memchr(h, ':', hl);

				if (colon)
					for (const char *p = colon + 1; p < h + hl; p++)
						if (!ISDIGIT(*p))
							return 0;
			}
		}
	}
	for (; i < n; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if ((c == '[' || c == ']') && i >= auth_end)
			return 0;
		if (c == '%')
		{
			if (i + 2 >= n || !ISHEX(s[i + 1]) || !ISHEX(s[i + 2]))
				return 0;
			i += 2;
			continue;
		}
		if (c >= 0x80)
		{
			if (!iri)
				return 0;
			continue;
		}
		if (!(ISALPHA(c) || ISDIGIT(c) || strchr("-._~:/?#[]@!$&'()*+,;=", c)))
			return 0;
		if (c == '#' )
		{
			/* fragment: no further '#' */
			for (size_t j = i + 1; j < n; j++)
				if (s[j] == '#')
					return 0;
		}
	}
	return 1;
}

/* uri format */
static int
fmt_uri(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return uri_check(s, n, 1, 0);
}

/* uri-reference format */
static int
fmt_uri_ref(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return uri_check(s, n, 0, 0);
}

/* iri format */
static int
fmt_iri(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return uri_check(s, n, 1, 1);
}

/* iri-reference format */
static int
fmt_iri_ref(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	return uri_check(s, n, 0, 1);
}

/* RFC 6570 varchar (ALPHA / DIGIT / "_" / pct-encoded) at s[i]; returns length */
static size_t
tpl_varchar(const char *s, size_t n, size_t i)
{
	if (i < n && (ISALPHA(s[i]) || ISDIGIT(s[i]) || s[i] == '_'))
		return 1;
	if (i + 2 < n && s[i] == '%' && ISHEX(s[i + 1]) && ISHEX(s[i + 2]))
		return 3;
	return 0;
}

/* RFC 6570 level-4 URI template grammar */
static int
fmt_uri_template(const char *s, size_t n, js_regex_env *env)
{
	size_t		i = 0;

	(void) env;
	while (i < n)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '{')
		{
			i++;
			if (i < n && strchr("+#./;?&=,!@|", s[i]))
				i++;
			for (;;)
			{
				size_t		k = tpl_varchar(s, n, i);

				if (!k)
					return 0;	/* empty varspec / operator in wrong place */
				i += k;
				for (;;)
				{
					if (i < n && s[i] == '.')
					{
						i++;
						if (!(k = tpl_varchar(s, n, i)))
							return 0;
						i += k;
					}
					else if ((k = tpl_varchar(s, n, i)) != 0)
						i += k;
					else
						break;
				}
				if (i < n && s[i] == ':')
				{
					size_t		st = ++i;

					if (i >= n || s[i] < '1' || s[i] > '9')
						return 0;
					while (i < n && ISDIGIT(s[i]))
						i++;
					if (i - st > 4)
						return 0;
				}
				else if (i < n && s[i] == '*')
					i++;
				if (i < n && s[i] == ',')
				{
					i++;
					continue;
				}
				break;
			}
			if (i >= n || s[i] != '}')
				return 0;
			i++;
			continue;
		}
		if (c == '%')
		{
			if (i + 2 >= n || !ISHEX(s[i + 1]) || !ISHEX(s[i + 2]))
				return 0;
			i += 3;
			continue;
		}
		if (c <= 0x20 || c == 0x7f || strchr("\"<>\\^`|}", c))
			return 0;
		i++;
	}
	return 1;
}

/* RFC 4122 UUID text form */
static int
fmt_uuid(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	if (n != 36)
		return 0;
	for (size_t i = 0; i < n; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return 0;
		}
		else if (!ISHEX(s[i]))
			return 0;
	}
	return 1;
}

/* RFC 6901 JSON pointer */
static int
fmt_json_pointer(const char *s, size_t n, js_regex_env *env)
{
	(void) env;
	if (n > 0 && s[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '~' && (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1')))
			return 0;
	return 1;
}

/* relative JSON pointer */
static int
fmt_rel_json_pointer(const char *s, size_t n, js_regex_env *env)
{
	size_t		i = 0;

	while (i < n && ISDIGIT(s[i]))
		i++;
	if (i == 0 || (i > 1 && s[0] == '0'))
		return 0;
	if (i == n)
		return 1;
	if (s[i] == '#' && i + 1 == n)
		return 1;
	return fmt_json_pointer(s + i, n - i, env);
}

/* regex format: must compile */
static int
fmt_regex(const char *s, size_t n, js_regex_env *env)
{
	return js_regex_valid(env, s, n);
}

static const struct
{
	const char *name;
	js_format_fn fn;
}			formats[] = {
	{"date-time", fmt_date_time}, {"date", fmt_date}, {"time", fmt_time},
	{"duration", fmt_duration}, {"email", fmt_email}, {"idn-email", fmt_idn_email},
	{"hostname", fmt_hostname}, {"idn-hostname", fmt_idn_hostname},
	{"ipv4", fmt_ipv4}, {"ipv6", fmt_ipv6}, {"uri", fmt_uri},
	{"uri-reference", fmt_uri_ref}, {"iri", fmt_iri}, {"iri-reference", fmt_iri_ref},
	{"uri-template", fmt_uri_template}, {"uuid", fmt_uuid}, {"regex", fmt_regex},
	{"json-pointer", fmt_json_pointer}, {"relative-json-pointer", fmt_rel_json_pointer},
};

/* look up a format checker by name (NULL if unknown) */
js_format_fn
js_format_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (strlen(formats[i].name) == len && memcmp(formats[i].name, name, len) == 0)
			return formats[i].fn;
	return NULL;
}

/*
 * the checker for a format in a schema of internal draft 'draft': draft-04
 * and draft-06 keep their RFC 1034 hostname
 */
js_format_fn
js_format_lookup_draft(const char *name, size_t len, int draft)
{
	if (draft <= JS_D6 && js_streq(name, len, "hostname"))
		return fmt_hostname_rfc1034;
	return js_format_lookup(name, len);
}

/* public: check s against a named format (1 ok, 0 bad, -1 unknown) */
int
js_format_check(const char *format, const char *s, size_t len)
{
	js_format_fn fn = js_format_lookup(format, strlen(format));

	if (!fn)
		return -1;
	return fn(s, len, NULL);
}
