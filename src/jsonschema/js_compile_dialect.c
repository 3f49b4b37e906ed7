/*
 * js_compile_dialect.c - "$schema": map a dialect or meta-schema URI to a
 * draft (04, 06, 07, 2019-09 or 2020-12) and to the vocabularies compiled
 * for the resource (the "$vocabulary" of a custom 2019-09 / 2020-12
 * meta-schema).
 */
#include "js_internal.h"

#include <string.h>

/* true if s equals the NUL-terminated string lit */
int
js_streq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* map a known dialect URI to a draft (0 if unknown) */
static int
known_dialect(const char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '#')
		n--;
	if (js_streq(s, n, "https://json-schema.org/draft/2020-12/schema") ||
		js_streq(s, n, "http://json-schema.org/draft/2020-12/schema"))
		return JS_D20;
	if (js_streq(s, n, "https://json-schema.org/draft/2019-09/schema") ||
		js_streq(s, n, "http://json-schema.org/draft/2019-09/schema"))
		return JS_D19;
	if (js_streq(s, n, "http://json-schema.org/draft-07/schema") ||
		js_streq(s, n, "https://json-schema.org/draft-07/schema"))
		return JS_D7;
	if (js_streq(s, n, "http://json-schema.org/draft-06/schema") ||
		js_streq(s, n, "https://json-schema.org/draft-06/schema"))
		return JS_D6;
	if (js_streq(s, n, "http://json-schema.org/draft-04/schema") ||
		js_streq(s, n, "https://json-schema.org/draft-04/schema"))
		return JS_D4;
	return 0;
}

/* internal draft for a js_options.default_draft value */
int
js_draft_from_option(int opt_draft)
{
	switch (opt_draft)
	{
		case JS_DRAFT_4:
			return JS_D4;
		case JS_DRAFT_6:
			return JS_D6;
		case JS_DRAFT_7:
			return JS_D7;
		case JS_DRAFT_2019_09:
			return JS_D19;
		default:
			return JS_D20;
	}
}

/*
 * map a vocabulary URI of draft d to its bits (0 if unknown).  2019-09 has
 * the unevaluated keywords in its applicator vocabulary and one "format"
 * vocabulary (an annotation unless format assertion is asked for).
 */
static unsigned
vocab_bit(const char *s, size_t n, int d)
{
	static const struct
	{
		const char *name;
		unsigned	bit;
	}			v[] = {
		{"core", JS_VOC_CORE}, {"applicator", JS_VOC_APPL}, {"unevaluated", JS_VOC_UNEV},
		{"validation", JS_VOC_VALID}, {"meta-data", JS_VOC_META},
		{"format-annotation", JS_VOC_FMT}, {"format-assertion", JS_VOC_FMTA},
		{"content", JS_VOC_CONTENT}
	};
	static const struct
	{
		const char *name;
		unsigned	bit;
	}			v19[] = {
		{"core", JS_VOC_CORE}, {"applicator", JS_VOC_APPL | JS_VOC_UNEV},
		{"validation", JS_VOC_VALID}, {"meta-data", JS_VOC_META},
		{"format", JS_VOC_FMT}, {"content", JS_VOC_CONTENT}
	};
	const char *pre = d == JS_D19 ? "https://json-schema.org/draft/2019-09/vocab/" :
		"https://json-schema.org/draft/2020-12/vocab/";
	size_t		pl = strlen(pre);

	if (n <= pl || memcmp(s, pre, pl) != 0)
		return 0;
	if (d == JS_D19)
	{
		for (size_t i = 0; i < sizeof v19 / sizeof v19[0]; i++)
			if (js_streq(s + pl, n - pl, v19[i].name))
				return v19[i].bit;
		return 0;
	}
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		if (js_streq(s + pl, n - pl, v[i].name))
			return v[i].bit;
	return 0;
}

/* apply "$schema": choose draft and vocabularies */
void
js_set_dialect(js_cctx *cc, js_scope *sc, const js_val *sv, const js_seg *path)
{
	js_seg		seg = {path, "$schema", 7, 0};
	const js_val *meta,
			   *ms,
			   *voc;
	int			d;

	if (sv->type != JS_STRING)
	{
		js_schema_problem(cc, sc, &seg, "\"$schema\" must be a string");
		return;
	}
	d = known_dialect(sv->u.str, sv->n);
	if (d)
	{
		sc->draft = d;
		sc->vocab = JS_VOC_ALL;
		return;
	}
	{
		const char *frag;
		size_t		rl = js_uri_split(sv->u.str, &frag);

		meta = js_registry_lookup(cc->opt->registry, sv->u.str, rl);
	}
	if (!meta || meta->type != JS_OBJECT)
	{
		js_schema_problem(cc, sc, &seg, "unknown or unsupported $schema \"%s\"", sv->u.str);
		return;
	}
	ms = js_val_get(meta, "$schema", 7);
	d = ms && ms->type == JS_STRING ? known_dialect(ms->u.str, ms->n) : 0;
	if (!d)
	{
		js_schema_problem(cc, sc, &seg, "meta-schema \"%s\" uses an unsupported dialect", sv->u.str);
		return;
	}
	sc->draft = d;
	sc->vocab = JS_VOC_ALL;
	voc = js_val_get(meta, "$vocabulary", 11);
	if (d >= JS_D19 && voc && voc->type == JS_OBJECT)
	{
		sc->vocab = JS_VOC_CORE;
		for (size_t i = 0; i < voc->n; i++)
		{
			const js_member *m = &voc->u.members[i];
			unsigned	bit = vocab_bit(m->key, m->klen, d);

			if (bit)
				sc->vocab |= bit;
			else if (m->val->type == JS_BOOL && m->val->u.b)
				js_schema_problem(cc, sc, &seg, "meta-schema requires unsupported vocabulary \"%.*s\"",
								  (int) m->klen, m->key);
		}
	}
}
