/*
 * js_format_idn.c - the "hostname" and "idn-hostname" formats: RFC 1123
 * host names whose labels follow IDNA2008 (RFC 5890-5893).  libidn2 judges
 * every non-ASCII label (U-label) and every "xn--" label (A-label): code
 * point classes, CONTEXTJ / CONTEXTO rules, the Bidi rule within a label,
 * Punycode and the 63-octet limit.  What libidn2 does not check is done
 * here: the LDH syntax of ASCII labels, the 253-octet name, the Bidi rule
 * across the labels of a name with right-to-left labels (RFC 5893 section
 * 2) and rule 4 (no European and Arabic-Indic digits in one label).
 */
#include "js_internal.h"

#include <idn2.h>
#include <string.h>

/* longest label (bytes) worth asking libidn2 about: 63 octets as A-label */
#define LABEL_MAX 256

/* decode one UTF-8 code point at s[0..n); returns its length (0: invalid) */
static size_t
utf8_cp(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t		len;

	if (s[0] < 0x80)
	{
		*cp = s[0];
		return 1;
	}
	len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
	if (len == 0 || len > n)
		return 0;
	*cp = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	return len;
}

/* label separators of idn-hostname (RFC 3490 3.1): . U+3002 U+FF0E U+FF61 */
static size_t
separator(const unsigned char *s, size_t n, int idn)
{
	uint32_t	cp;
	size_t		l;

	if (s[0] == '.')
		return 1;
	if (!idn || s[0] < 0x80 || (l = utf8_cp(s, n, &cp)) == 0)
		return 0;
	return cp == 0x3002 || cp == 0xFF0E || cp == 0xFF61 ? l : 0;
}

/*
 * Right-to-left code points (Bidi classes R, AL and AN): Hebrew, Arabic,
 * Syriac, Thaana, NKo, Samaritan, Mandaic and their presentation forms,
 * and the right-to-left blocks of the supplementary planes.  libidn2 keeps
 * the Bidi classes to itself, so the blocks stand in for them here.
 */
static int
is_rtl(uint32_t cp)
{
	return (cp >= 0x0590 && cp <= 0x08FF) || (cp >= 0xFB1D && cp <= 0xFDFF) ||
		(cp >= 0xFE70 && cp <= 0xFEFF) || (cp >= 0x10800 && cp <= 0x10FFF) ||
		(cp >= 0x1E800 && cp <= 0x1EFFF);
}

/* facts about one label's code points, for the Bidi checks */
typedef struct label_info
{
	int			rtl;			/* has a right-to-left code point */
	int			en;				/* has a European digit (0-9, U+06F0-06F9) */
	int			an;				/* has an Arabic-Indic digit (U+0660-0669) */
	int			digit_first;	/* starts with an ASCII digit */
} label_info;

/* scan a UTF-8 label; 0 if it is not UTF-8 */
static int
scan_label(const unsigned char *s, size_t n, label_info *li)
{
	memset(li, 0, sizeof *li);
	li->digit_first = n > 0 && s[0] >= '0' && s[0] <= '9';
	for (size_t i = 0; i < n;)
	{
		uint32_t	cp;
		size_t		l = utf8_cp(s + i, n - i, &cp);

		if (l == 0)
			return 0;
		li->rtl |= is_rtl(cp);
		li->en |= (cp >= '0' && cp <= '9') || (cp >= 0x06F0 && cp <= 0x06F9);
		li->an |= cp >= 0x0660 && cp <= 0x0669;
		i += l;
	}
	return 1;
}

/* LDH syntax of an ASCII label (RFC 1123): letters, digits, inner hyphens */
static int
ldh_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Check one label; adds its A-label length to *total and fills *li with
 * its U-label's facts.  1 valid, 0 not.
 */
static int
check_label(const char *s, size_t n, int idn, size_t *total, label_info *li)
{
	char		buf[LABEL_MAX + 1];
	int			ascii = 1;
	uint8_t    *out = NULL;
	int			rc;

	if (n == 0 || n > LABEL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) s[i] >= 0x80)
			ascii = 0;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (ascii)
	{
		if (!ldh_label(s, n))
			return 0;
		*total += n;
		memset(li, 0, sizeof *li);
		li->digit_first = s[0] >= '0' && s[0] <= '9';
		/* "--" in the 3rd and 4th position is reserved for A-labels */
		if (n < 4 || s[2] != '-' || s[3] != '-')
			return 1;
		if (!((s[0] == 'x' || s[0] == 'X') && (s[1] == 'n' || s[1] == 'N')))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] = (char) (buf[i] - 'A' + 'a');
		/* an A-label must decode to a valid U-label that encodes back to it */
		if (idn2_register_u8(NULL, (const uint8_t *) buf, NULL, 0) != IDN2_OK)
			return 0;
		rc = idn2_to_unicode_8z8z(buf, (char **) &out, 0);
		if (rc != IDN2_OK)
			return 0;
		rc = scan_label(out, strlen((const char *) out), li);
		idn2_free(out);
		return rc && !(li->rtl && li->en && li->an);
	}
	if (!idn)
		return 0;
	/* idn 2 (e-mail domains): a label is taken in its NFC form */
	rc = idn2_register_u8((const uint8_t *) buf, NULL, &out, idn == 2 ? IDN2_NFC_INPUT : 0);
	if (rc != IDN2_OK)
		return 0;
	*total += strlen((const char *) out);
	idn2_free(out);
	/* RFC 5893 rule 4: European and Arabic-Indic digits never share a label */
	return scan_label((const unsigned char *) s, n, li) && !(li->rtl && li->en && li->an);
}

/*
 * A host name: labels separated by dots (idn-hostname: also the ideographic
 * full stops), no empty label, at most 253 octets in A-label form.  idn:
 * 0 ASCII labels only, 1 U-labels too, 2 U-labels normalised to NFC first
 * (an e-mail domain, RFC 6531).  1 valid, 0 not.
 */
int
js_hostname_valid(const char *s, size_t n, int idn)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		total = 0,
				i = 0;
	int			rtl = 0,
				digit_first = 0;

	if (n == 0)
		return 0;
	for (;;)
	{
		size_t		st = i,
					sep = 0;
		label_info	li;

		while (i < n && (sep = separator(u + i, n - i, idn)) == 0)
			i++;
		if (!check_label(s + st, i - st, idn, &total, &li))
			return 0;
		rtl |= li.rtl;
		digit_first |= li.digit_first;
		if (i == n)
			break;
		total++;
		i += sep;
		if (i == n)
			return 0;			/* a trailing separator leaves an empty label */
	}
	/* in a name with a right-to-left label every label must start with a letter */
	if (rtl && digit_first)
		return 0;
	return total <= 253;
}
