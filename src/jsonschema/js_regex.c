/*
 * js_regex.c - ECMA-262-like regular expressions on top of PCRE2 (8-bit,
 * UTF mode), compiled once per schema, matched with match/depth limits so
 * that catastrophic patterns fail fast instead of hanging.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "js_internal.h"

#include <pcre2.h>
#include <stdio.h>
#include <string.h>

struct js_regex_env
{
	js_allocator al;
	pcre2_general_context *gctx;
	pcre2_compile_context *cctx;
	pcre2_match_context *mctx;
};

struct js_regex
{
	pcre2_code *code;
};

/* pcre2 memory callback: allocate through the engine allocator */
static void *
re_malloc(PCRE2_SIZE n, void *data)
{
	const js_allocator *al = data;

	return js_amalloc(al, n);
}

/* pcre2 memory callback: free through the engine allocator */
static void
re_free(void *p, void *data)
{
	const js_allocator *al = data;

	js_afree(al, p);
}

/* create the pcre2 contexts (allocator copied into the env) */
js_regex_env *
js_regex_env_new(const js_allocator *al, uint32_t match_limit, uint32_t depth_limit)
{
	js_regex_env *env = js_amalloc(al, sizeof(js_regex_env));

	if (!env)
		return NULL;
	memset(env, 0, sizeof *env);
	env->al = *al;
	env->gctx = pcre2_general_context_create(re_malloc, re_free, &env->al);
	if (!env->gctx)
		goto fail;
	env->cctx = pcre2_compile_context_create(env->gctx);
	env->mctx = pcre2_match_context_create(env->gctx);
	if (!env->cctx || !env->mctx)
		goto fail;
	/* ECMA-262 \u{hhhh} escapes */
#ifdef PCRE2_EXTRA_ALT_BSUX
	pcre2_set_compile_extra_options(env->cctx, PCRE2_EXTRA_ALT_BSUX);
#endif
	pcre2_set_match_limit(env->mctx, match_limit ? match_limit : 1000000);
	pcre2_set_depth_limit(env->mctx, depth_limit ? depth_limit : 10000);
	return env;
fail:
	js_regex_env_free(env);
	return NULL;
}

/* free the pcre2 contexts */
void
js_regex_env_free(js_regex_env *env)
{
	js_allocator al;

	if (!env)
		return;
	al = env->al;
	if (env->mctx)
		pcre2_match_context_free(env->mctx);
	if (env->cctx)
		pcre2_compile_context_free(env->cctx);
	if (env->gctx)
		pcre2_general_context_free(env->gctx);
	js_afree(&al, env);
}

/* ECMA-262 long General_Category names -> PCRE2 short names */
static const char *const gc_names[][2] = {
	{"Letter", "L"}, {"Cased_Letter", "L&"}, {"Uppercase_Letter", "Lu"},
	{"Lowercase_Letter", "Ll"}, {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},
	{"Other_Letter", "Lo"}, {"Mark", "M"}, {"Combining_Mark", "M"},
	{"Nonspacing_Mark", "Mn"}, {"Spacing_Mark", "Mc"}, {"Enclosing_Mark", "Me"},
	{"Number", "N"}, {"Decimal_Number", "Nd"}, {"digit", "Nd"},
	{"Letter_Number", "Nl"}, {"Other_Number", "No"}, {"Punctuation", "P"},
	{"punct", "P"}, {"Connector_Punctuation", "Pc"}, {"Dash_Punctuation", "Pd"},
	{"Open_Punctuation", "Ps"}, {"Close_Punctuation", "Pe"},
	{"Initial_Punctuation", "Pi"}, {"Final_Punctuation", "Pf"},
	{"Other_Punctuation", "Po"}, {"Symbol", "S"}, {"Math_Symbol", "Sm"},
	{"Currency_Symbol", "Sc"}, {"Modifier_Symbol", "Sk"}, {"Other_Symbol", "So"},
	{"Separator", "Z"}, {"Space_Separator", "Zs"}, {"Line_Separator", "Zl"},
	{"Paragraph_Separator", "Zp"}, {"Other", "C"}, {"Control", "Cc"},
	{"cntrl", "Cc"}, {"Format", "Cf"}, {"Surrogate", "Cs"},
	{"Private_Use", "Co"}, {"Unassigned", "Cn"},
};

/* map a \p{...} body to a PCRE2 property name (static or thread buffer) */
static const char *
prop_name(const char *s, size_t n, char *buf, size_t bufsz)
{
	static const char *const prefixes[] = {
		"General_Category=", "gc=", "Script=", "sc=", "Script_Extensions=", "scx="
	};

	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
	{
		size_t		pl = strlen(prefixes[i]);

		if (n > pl && memcmp(s, prefixes[i], pl) == 0)
		{
			s += pl;
			n -= pl;
			break;
		}
	}
	for (size_t i = 0; i < sizeof gc_names / sizeof gc_names[0]; i++)
		if (strlen(gc_names[i][0]) == n && memcmp(gc_names[i][0], s, n) == 0)
			return gc_names[i][1];
	if (n >= bufsz)
		n = bufsz - 1;
	memcpy(buf, s, n);
	buf[n] = 0;
	return buf;
}

/*
 * Translate ECMA-262 syntax differences into PCRE2 syntax:
 * \d/\w stay ASCII (PCRE2 without UCP), \s and \S get the ECMA Unicode
 * whitespace set, \v is U+000B, [] / [^] get ECMA meaning, \p{Long_Name}
 * is mapped to PCRE2 names.  Returns 1, 0 (out of memory) or -1 when the
 * pattern uses syntax that ECMA-262 rejects (\a, (?P..), (?#..), (?i)).
 */
static int
translate(js_buf *b, const char *p, size_t n)
{
	/* ECMA WhiteSpace + LineTerminator; non-ASCII ones as literal UTF-8
	 * because PCRE2_ALT_BSUX disables \\x{...} */
	static const char ws[] = "\\t\\n\\x0b\\f\\r "
		"\xc2\xa0" "\xe1\x9a\x80" "\xe2\x80\x80-\xe2\x80\x8a"
		"\xe2\x80\xa8" "\xe2\x80\xa9" "\xe2\x80\xaf" "\xe2\x81\x9f"
		"\xe3\x80\x80" "\xef\xbb\xbf";
	int			in_class = 0;

#define ISALPHA_(ch) (((ch) >= 'a' && (ch) <= 'z') || ((ch) >= 'A' && (ch) <= 'Z'))
	for (size_t i = 0; i < n; i++)
	{
		char		c = p[i];

		if (c == '\\' && i + 1 < n)
		{
			char		d = p[i + 1];

			if ((d == 'p' || d == 'P') && i + 2 < n && p[i + 2] == '{')
			{
				const char *e = memchr(p + i + 3, '}', n - i - 3);

				if (e)
				{
					size_t		st = i + 3;
					char		pb[128];

					js_buf_add(b, p + i, 3);
					js_buf_adds(b, prop_name(p + st, (size_t) (e - p - st), pb, sizeof pb));
					js_buf_add(b, "}", 1);
					i = (size_t) (e - p);
					continue;
				}
			}
			if (ISALPHA_(d) && !strchr("dDwWsSbBnrtfv0cxupPk", d))
				return -1;		/* not an ECMA-262 (unicode mode) escape */
			if (d == 'v')
			{
				js_buf_adds(b, "\\x0b");
				i++;
				continue;
			}
			if (d == 's' || d == 'S')
			{
				if (in_class && d == 's')
					js_buf_adds(b, ws);
				else if (in_class)
					js_buf_add(b, "\\S", 2);	/* approximate inside class */
				else
				{
					js_buf_adds(b, d == 's' ? "[" : "[^");
					js_buf_adds(b, ws);
					js_buf_adds(b, "]");
				}
			}
			else
				js_buf_add(b, p + i, 2);
			i++;
			continue;
		}
		if (c == '[' && !in_class && i + 1 < n && p[i + 1] == ']')
		{
			js_buf_adds(b, "(?!)");	/* ECMA empty class matches nothing */
			i++;
			continue;
		}
		if (c == '[' && !in_class && i + 2 < n && p[i + 1] == '^' && p[i + 2] == ']')
		{
			js_buf_adds(b, "[\\s\\S]");	/* ECMA [^] matches anything */
			i += 2;
			continue;
		}
		if (c == '(' && !in_class && i + 2 < n && p[i + 1] == '?')
		{
			size_t		j = i + 2;

			if (p[j] == 'P' || p[j] == '#')
				return -1;		/* Python/PCRE-only group syntax */
			while (j < n && strchr("imsx-", p[j]))
				j++;
			if (j > i + 2 && j < n && p[j] == ')')
				return -1;		/* global inline flags are not ECMA-262 */
		}
		if (c == '[' && !in_class)
			in_class = 1;
		else if (c == ']' && in_class)
			in_class = 0;
		js_buf_add(b, &c, 1);
	}
	return !b->oom;
}

/* compile an ECMA-262-ish pattern; NULL + message in err on failure */
js_regex *
js_regex_compile(js_regex_env *env, const char *pat, size_t len, char *err, size_t errlen)
{
	js_buf		b;
	int			ec;
	PCRE2_SIZE	eo;
	pcre2_code *code;
	js_regex   *re;

	js_buf_init(&b, &env->al);
	ec = translate(&b, pat, len);
	if (ec <= 0)
	{
		js_buf_free(&b);
		snprintf(err, errlen, ec < 0 ? "invalid regular expression: syntax not supported by ECMA-262"
				 : "out of memory");
		return NULL;
	}
	code = pcre2_compile((PCRE2_SPTR) (b.s ? b.s : ""), b.len,
						 PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY,
						 &ec, &eo, env->cctx);
	js_buf_free(&b);
	if (!code)
	{
		PCRE2_UCHAR msg[160];

		pcre2_get_error_message(ec, msg, sizeof msg);
		snprintf(err, errlen, "invalid regular expression: %s", (char *) msg);
		return NULL;
	}
	re = js_amalloc(&env->al, sizeof(js_regex));
	if (!re)
	{
		pcre2_code_free(code);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	re->code = code;
	return re;
}

/* free a compiled regex and its wrapper */
void
js_regex_destroy(js_regex_env *env, js_regex *re)
{
	if (!re)
		return;
	pcre2_code_free(re->code);
	js_afree(&env->al, re);
}

/* allocate match data for one validation run */
void *
js_regex_mdata_new(js_regex_env *env)
{
	return pcre2_match_data_create(1, env->gctx);
}

/* free match data */
void
js_regex_mdata_free(void *md)
{
	if (md)
		pcre2_match_data_free(md);
}

/* 1 match, 0 no match, -1 limit hit or matching error */
int
js_regex_match(js_regex_env *env, void *mdata, const js_regex *re,
			   const char *s, size_t len)
{
	int			rc = pcre2_match(re->code, (PCRE2_SPTR) s, len, 0, 0,
								 (pcre2_match_data *) mdata, env->mctx);

	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	return -1;
}

/* 1 if the pattern compiles (format "regex"); env NULL means libc */
int
js_regex_valid(js_regex_env *env, const char *pat, size_t len)
{
	js_regex_env *own = NULL;
	char		err[200];
	js_regex   *re;
	int			ok;

	if (!env)
		env = own = js_regex_env_new(&js_libc_allocator, 0, 0);
	if (!env)
		return 1;
	re = js_regex_compile(env, pat, len, err, sizeof err);
	ok = re != NULL;
	js_regex_destroy(env, re);
	js_regex_env_free(own);
	return ok;
}
