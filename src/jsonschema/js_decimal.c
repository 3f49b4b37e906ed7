/*
 * js_decimal.c - exact decimal numbers for the number keywords.
 *
 * JSON numbers are decimal text of any size and precision; a double cannot
 * hold 1e400 or 0.1 exactly, so the validator compares the decimal digits
 * themselves.  A js_dec points into the number's text (no allocation): its
 * significant digits are the two runs a and b (integer and fraction digits,
 * leading and trailing zeros stripped) and the value is 0.D x 10^point.
 */
#include "js_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* exponents beyond this saturate (|value| far outside any real document) */
#define JS_DEC_EXP_MAX ((int64_t) 1 << 60)

/* work allowed for one multipleOf remainder with a long divisor */
#define JS_DEC_WORK_MAX 100000000

/* digit i (0-based) of the significant digits */
static inline int
dig(const js_dec *d, size_t i)
{
	return (i < d->alen ? d->a[i] : d->b[i - d->alen]) - '0';
}

static inline int
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* parse JSON number text (also PostgreSQL numeric_out text); 1 ok, 0 bad */
int
js_dec_parse(const char *s, size_t len, js_dec *d)
{
	const char *p = s,
			   *end = s + len,
			   *i0,
			   *i1,
			   *f0 = NULL,
			   *f1 = NULL;
	int64_t		exp = 0;

	memset(d, 0, sizeof *d);
	if (p < end && (*p == '-' || *p == '+'))
		d->neg = *p++ == '-';
	i0 = p;
	while (p < end && is_digit(*p))
		p++;
	i1 = p;
	if (p < end && *p == '.')
	{
		f0 = ++p;
		while (p < end && is_digit(*p))
			p++;
		f1 = p;
	}
	if (i0 == i1 && f0 == f1)
		return 0;
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		int			eneg = 0;

		p++;
		if (p < end && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (p == end || !is_digit(*p))
			return 0;
		for (; p < end && is_digit(*p); p++)
			if (exp <= JS_DEC_EXP_MAX / 10)
				exp = exp * 10 + (*p - '0');
		if (eneg)
			exp = -exp;
	}
	if (p != end)
		return 0;
	if (!f0)
		f0 = f1 = i1;

	/* leading zeros: of the integer part, then (if it is all zeros) of the fraction */
	while (i0 < i1 && *i0 == '0')
		i0++;
	if (i0 == i1)
	{
		const char *z = f0;

		while (f0 < f1 && *f0 == '0')
			f0++;
		d->point = exp - (f0 - z);
	}
	else
		d->point = exp + (i1 - i0);
	/* trailing zeros: of the fraction, then (if it is all zeros) of the integer part */
	while (f1 > f0 && f1[-1] == '0')
		f1--;
	if (f1 == f0)
		while (i1 > i0 && i1[-1] == '0')
			i1--;
	d->a = i0;
	d->alen = (size_t) (i1 - i0);
	d->b = f0;
	d->blen = (size_t) (f1 - f0);
	if (d->alen + d->blen == 0)
	{
		d->neg = 0;				/* -0 == 0 */
		d->point = 0;
	}
	if (d->point > JS_DEC_EXP_MAX)
		d->point = JS_DEC_EXP_MAX;
	if (d->point < -JS_DEC_EXP_MAX)
		d->point = -JS_DEC_EXP_MAX;
	return 1;
}

/*
 * The decimal for a double, for accessors that have no number text: the
 * shortest form that reads back as the same double (so 0.1 is 0.1, as the
 * document said, not 0.1000000000000000055511151231257827).
 */
void
js_dec_from_double(double x, char *buf, size_t size, js_dec *d)
{
	if (isnan(x))
		x = 0;
	if (isinf(x))
	{
		/* only a text-less adapter produces this: larger than any finite value */
		snprintf(buf, size, "%s1e%lld", x < 0 ? "-" : "", (long long) JS_DEC_EXP_MAX);
		js_dec_parse(buf, strlen(buf), d);
		return;
	}
	if (x == floor(x) && fabs(x) < 9007199254740992.0)
	{
		/* whole and exact: plain digits, without printf */
		char		tmp[24];
		size_t		k = sizeof tmp,
					n = 0;
		uint64_t	u = (uint64_t) fabs(x);

		do
		{
			tmp[--k] = (char) ('0' + u % 10);
			u /= 10;
		} while (u);
		if (x < 0)
			buf[n++] = '-';
		memcpy(buf + n, tmp + k, sizeof tmp - k);
		n += sizeof tmp - k;
		buf[n] = 0;
		js_dec_parse(buf, n, d);
		return;
	}
	for (int prec = 15; prec <= 17; prec++)
	{
		snprintf(buf, size, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			break;
	}
	js_dec_parse(buf, strlen(buf), d);
}

/* read number node n exactly: its text when the accessor has it, else its double */
void
js_num_read(const js_accessor *acc, js_node n, js_num *out)
{
	const char *s;
	size_t		len;

	if (acc->number_text && acc->number_text(acc->ctx, n, &s, &len) &&
		js_dec_parse(s, len, &out->d))
		return;
	{
		double		x = 0;
		int			isint = 0;

		acc->number(acc->ctx, n, &x, &isint);
		js_dec_from_double(x, out->buf, sizeof out->buf, &out->d);
	}
}

/* is the value a whole number? */
int
js_dec_is_int(const js_dec *d)
{
	return d->point >= (int64_t) (d->alen + d->blen);
}

/* compare magnitudes (both non-zero) */
static int
cmp_abs(const js_dec *x, const js_dec *y)
{
	size_t		nx = x->alen + x->blen,
				ny = y->alen + y->blen,
				n = nx < ny ? nx : ny;

	if (x->point != y->point)
		return x->point < y->point ? -1 : 1;
	for (size_t i = 0; i < n; i++)
	{
		int			a = dig(x, i),
					b = dig(y, i);

		if (a != b)
			return a < b ? -1 : 1;
	}
	return nx == ny ? 0 : nx < ny ? -1 : 1;
}

/* exact comparison: -1, 0 or 1 */
int
js_dec_cmp(const js_dec *x, const js_dec *y)
{
	int			zx = x->alen + x->blen == 0,
				zy = y->alen + y->blen == 0;

	if (zx || zy)
	{
		if (zx && zy)
			return 0;
		if (zx)
			return y->neg ? 1 : -1;
		return x->neg ? -1 : 1;
	}
	if (x->neg != y->neg)
		return x->neg ? -1 : 1;
	return x->neg ? -cmp_abs(x, y) : cmp_abs(x, y);
}

/* hash consistent with js_dec_cmp() == 0 */
uint64_t
js_dec_hash(const js_dec *d, uint64_t h)
{
	size_t		n = d->alen + d->blen;

	h ^= (uint64_t) d->point * 0x9E3779B97F4A7C15ULL + (uint64_t) d->neg;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint64_t) dig(d, i)) * 0x100000001B3ULL;
	return h;
}

/*
 * Remainder of the digit stream (x's digits then k zeros) by a divisor of
 * more than 18 digits: schoolbook long division on a decimal digit array.
 * 1 remainder zero, 0 not, -1 too much work, -2 out of memory.
 */
static int
long_remainder_zero(const js_dec *x, size_t k, const js_dec *m, js_arena *a)
{
	size_t		nx = x->alen + x->blen,
				nm = m->alen + m->blen;
	js_mark		mk;
	uint8_t    *r,
			   *mv;
	int			zero = 1;

	if ((double) (nx + k) * (double) nm > JS_DEC_WORK_MAX)
		return -1;
	mk = js_arena_mark(a);
	r = js_arena_zalloc(a, nm + 1);
	mv = js_arena_alloc(a, nm + 1);
	if (!r || !mv)
		return -2;
	/* most significant digit first, one extra leading digit of room */
	mv[0] = 0;
	for (size_t i = 0; i < nm; i++)
		mv[i + 1] = (uint8_t) dig(m, i);
	for (size_t step = 0; step < nx + k; step++)
	{
		/* r = r * 10 + next digit; r < m before, so r < 10 m after */
		memmove(r, r + 1, nm);
		r[nm] = (uint8_t) (step < nx ? dig(x, step) : 0);
		for (;;)
		{
			int			ge = 1;

			for (size_t i = 0; i <= nm; i++)
				if (r[i] != mv[i])
				{
					ge = r[i] > mv[i];
					break;
				}
			if (!ge)
				break;
			for (size_t i = nm + 1, borrow = 0; i-- > 0;)
			{
				int			v = r[i] - mv[i] - (int) borrow;

				borrow = v < 0;
				r[i] = (uint8_t) (v < 0 ? v + 10 : v);
			}
		}
	}
	for (size_t i = 0; i <= nm; i++)
		zero &= r[i] == 0;
	js_arena_release(a, mk);
	return zero;
}

/*
 * Is x an integer multiple of m (m > 0)?  1 yes, 0 no, -1 too much work,
 * -2 out of memory.  With x = X 10^qx and m = M 10^qm (X, M integers without
 * trailing zeros): if qx < qm, X would need a factor 10 it lacks; otherwise
 * the question is whether M divides X 10^k, k = qx - qm.  Beyond 4 digits
 * per digit of M, more factors of 10 cannot change the answer (only the
 * 2s and 5s of M need them, and M < 16^digits), so k is capped there.
 */
int
js_dec_multiple(const js_dec *x, const js_dec *m, js_arena *scratch)
{
	size_t		nx = x->alen + x->blen,
				nm = m->alen + m->blen;
	int64_t		qx,
				qm;
	size_t		k;

	if (nx == 0)
		return 1;
	if (nm == 0)
		return 0;
	qx = x->point - (int64_t) nx;
	qm = m->point - (int64_t) nm;
	if (qx < qm)
		return 0;
	k = (uint64_t) (qx - qm) > 4 * (uint64_t) nm + 4 ? 4 * nm + 4 : (size_t) (qx - qm);
	if (nm <= 18)
	{
		uint64_t	mv = 0,
					r = 0;

		for (size_t i = 0; i < nm; i++)
			mv = mv * 10 + (uint64_t) dig(m, i);
		/* r < mv < 10^18, so r * 10 + 9 fits in 64 bits */
		for (size_t i = 0; i < nx; i++)
			r = (r * 10 + (uint64_t) dig(x, i)) % mv;
		for (size_t i = 0; i < k && r; i++)
			r = r * 10 % mv;
		return r == 0;
	}
	return long_remainder_zero(x, k, m, scratch);
}

/*
 * A short readable form for messages: plain notation for ordinary
 * magnitudes, else d.ddde+N; at most 17 significant digits ("..." marks
 * digits left out), so a client's huge number is never echoed whole.
 */
void
js_dec_format(const js_dec *d, char *buf, size_t size)
{
	size_t		n = d->alen + d->blen,
				shown = n > 17 ? 17 : n,
				k = 0;
	char		tmp[64];

	if (n == 0)
	{
		snprintf(buf, size, "0");
		return;
	}
	if (d->neg)
		tmp[k++] = '-';
	if (n <= 17 && d->point > 0 && d->point <= 21)
	{
		/* ddd, ddd000 or dd.ddd */
		for (int64_t i = 0; i < (d->point > (int64_t) n ? d->point : (int64_t) n); i++)
		{
			if (i == d->point)
				tmp[k++] = '.';
			tmp[k++] = (char) ('0' + (i < (int64_t) n ? dig(d, (size_t) i) : 0));
		}
	}
	else if (n <= 17 && d->point <= 0 && d->point > -6)
	{
		/* 0.000ddd */
		tmp[k++] = '0';
		tmp[k++] = '.';
		for (int64_t i = d->point; i < 0; i++)
			tmp[k++] = '0';
		for (size_t i = 0; i < n; i++)
			tmp[k++] = (char) ('0' + dig(d, i));
	}
	else
	{
		tmp[k++] = (char) ('0' + dig(d, 0));
		if (shown > 1)
			tmp[k++] = '.';
		for (size_t i = 1; i < shown; i++)
			tmp[k++] = (char) ('0' + dig(d, i));
		if (shown < n)
		{
			memcpy(tmp + k, "...", 3);
			k += 3;
		}
		k += (size_t) snprintf(tmp + k, sizeof tmp - k, "e%s%lld", d->point - 1 >= 0 ? "+" : "",
							   (long long) (d->point - 1));
	}
	tmp[k < sizeof tmp ? k : sizeof tmp - 1] = 0;
	snprintf(buf, size, "%s", tmp);
}
