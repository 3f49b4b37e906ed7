/*
 * js_validate_object.c - object keywords: min/maxProperties, required,
 * dependentRequired, properties, patternProperties, additionalProperties,
 * propertyNames and dependentSchemas (draft 7: dependencies), marking
 * evaluated properties.
 */
#include "js_internal.h"

#include <string.h>

/* binary search a property schema by name */
static const js_schema *
find_prop(const js_schema *s, const char *k, size_t kl, const char **name)
{
	size_t		lo = 0,
				hi = s->n_props;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;
		const js_named *p = &s->props[mid];
		int			cmp = p->len != kl ? (p->len < kl ? -1 : 1) : memcmp(p->name, k, kl);

		if (cmp == 0)
		{
			*name = p->name;
			return p->s;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* order of a property name and a key: length first, then bytes (as jsonb's) */
static inline int
name_cmp(const js_named *p, const char *k, size_t kl)
{
	if (p->len != kl)
		return p->len < kl ? -1 : 1;
	return js_short_cmp(p->name, k, kl);
}

/*
 * The property schema of member k, for members arriving in order: a merge
 * of the members with the sorted property names from cursor *cur on, so an
 * object whose keys come ordered by length, then bytes (jsonb's order)
 * costs about one comparison per member.  A key that arrives out of that
 * order is looked up by binary search instead.
 */
static inline const js_schema *
next_prop(const js_schema *s, const char *k, size_t kl, size_t *cur, const char **name)
{
	size_t		start = *cur,
				i = start;
	int			cmp = 1;

	while (i < s->n_props && (cmp = name_cmp(&s->props[i], k, kl)) < 0)
		i++;
	*cur = i;
	if (i < s->n_props && cmp == 0)
	{
		*name = s->props[i].name;
		return s->props[i].s;
	}
	if (i == start && i > 0 && name_cmp(&s->props[i - 1], k, kl) >= 0)
		return find_prop(s, k, kl, name);
	return NULL;
}

/* is property k present in object in? */
static int
has_prop(js_vctx *c, js_node in, const char *k, size_t kl)
{
	js_node		dummy;

	return c->acc->object_get(c->acc->ctx, in, k, kl, &dummy);
}

/*
 * Are all required names present?  One pass over the members, merged with
 * the sorted names, stops once every name is found; a name the pass did not
 * find (it is missing, or the accessor's keys are not in jsonb's order) is
 * looked up directly, so the answer is exact for any accessor.
 */
static int
has_required(js_vctx *c, const js_schema *s, js_node in)
{
	const js_strlist *r = &s->required_sorted;
	size_t		j = 0;
	js_iter		it;
	const char *key;
	size_t		kl;
	js_node		v;

	memset(&it, 0, sizeof it);
	while (j < r->n && c->acc->object_next(c->acc->ctx, in, &it, &key, &kl, &v))
	{
		int			cmp = r->len[j] != kl ? (r->len[j] < kl ? -1 : 1) :
			js_short_cmp(r->s[j], key, kl);

		if (cmp < 0)
			break;
		if (cmp == 0)
			j++;
	}
	for (; j < r->n; j++)
		if (!has_prop(c, in, r->s[j], r->len[j]))
			return 0;
	return 1;
}

/* minProperties, maxProperties, required, dependentRequired: no recursion */
static JS_NOINLINE int
eval_object_counts(js_vctx *c, const js_schema *s, js_node in, const js_seg *ip,
				   const js_seg *kp)
{
	size_t		n = c->acc->object_size(c->acc->ctx, in);
	int			valid = 1;

	if ((s->flags & JS_F_MINPROPS) && n < s->min_props)
	{
		JS_KSEG("minProperties", k);
		js_report(c, ip, &k, "object has fewer than %zu properties", s->min_props);
		JS_FAIL();
	}
	if ((s->flags & JS_F_MAXPROPS) && n > s->max_props)
	{
		JS_KSEG("maxProperties", k);
		js_report(c, ip, &k, "object has more than %zu properties", s->max_props);
		JS_FAIL();
	}
	/* without errors to report, only whether all are there matters */
	if (s->required_sorted.n && (c->quiet || !c->collect))
	{
		if (!has_required(c, s, in))
			JS_FAIL();
	}
	else
	{
		for (size_t i = 0; i < s->required.n; i++)
			if (!has_prop(c, in, s->required.s[i], s->required.len[i]))
			{
				JS_KSEG("required", k);
				js_report(c, ip, &k, "required property \"%.*s\" is missing",
						  (int) s->required.len[i], s->required.s[i]);
				JS_FAIL();
			}
	}
	for (size_t d = 0; d < s->n_dep_req; d++)
	{
		const js_depreq *dr = &s->dep_req[d];

		if (!has_prop(c, in, dr->name, dr->len))
			continue;
		for (size_t i = 0; i < dr->req.n; i++)
			if (!has_prop(c, in, dr->req.s[i], dr->req.len[i]))
			{
				js_seg		k1 = {kp, s->depreq_kw, strlen(s->depreq_kw), 0};
				js_seg		k2 = {&k1, dr->name, dr->len, 0};

				js_report(c, ip, &k2, "property \"%.*s\" is required when \"%.*s\" is present",
						  (int) dr->req.len[i], dr->req.s[i], (int) dr->len, dr->name);
				JS_FAIL();
			}
	}
	return valid;
}

/* patternProperties for one member; sets *matched when a pattern matches */
static JS_NOINLINE int
eval_member_patterns(js_vctx *c, const js_schema *s, const char *key, size_t kl, js_node v,
					 size_t idepth, const js_seg *is, const js_seg *ip, const js_seg *kp,
					 int depth, int *matched)
{
	int			valid = 1;

	JS_KSEG("patternProperties", k1);
	for (size_t p = 0; p < s->n_pprops; p++)
	{
		int			m;
		js_seg		k2 = {&k1, s->pprops[p].src, s->pprops[p].srclen, 0};

		if (!c->mdata && !(c->mdata = js_regex_mdata_new(c->cs->renv)))
		{
			c->oom = c->stop = 1;
			return 0;
		}
		m = js_regex_match(c->cs->renv, c->mdata, s->pprops[p].re, key, kl);
		if (m < 0)
		{
			js_limit_error(c, ip, &k2, JS_LIMIT_REGEX, "regular expression match limit exceeded");
			return 0;
		}
		if (m)
		{
			*matched = 1;
			if (!js_eval_child(c, s->pprops[p].s, v, idepth + 1, is, &k2, NULL, depth + 1))
				JS_FAIL();
		}
	}
	return valid;
}

/* propertyNames for one member name */
static JS_NOINLINE int
eval_member_name(js_vctx *c, const js_schema *s, const char *key, size_t kl, size_t idepth,
				 const js_seg *is, const js_seg *ip, const js_seg *kp, int depth)
{
	js_val		name;
	const js_accessor *saved = c->acc;
	int			ok;

	JS_KSEG("propertyNames", k1);
	memset(&name, 0, sizeof name);
	name.type = JS_STRING;
	name.u.str = key;
	name.n = kl;
	c->acc = &js_val_accessor;
	ok = js_eval_quiet(c, s->prop_names, js_val_node(&name), idepth + 1, is, &k1,
					   NULL, depth + 1);
	c->acc = saved;
	if (c->stop)
		return 0;
	if (!ok)
		js_report(c, ip, &k1, "property name \"%.*s\" is not valid", (int) kl, key);
	return ok;
}

/*
 * properties, patternProperties, additionalProperties, propertyNames: the
 * recursive step for objects, called from js_eval.  Every level of object
 * nesting pays for this frame, so it holds little; the rarer member
 * keywords are helpers.
 */
JS_NOINLINE int
js_eval_members(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
				const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	js_iter		it;
	const char *key;
	size_t		kl,
				idx = 0;
	js_node		v;
	js_seg		is = {ip, NULL, 0, 0};
	js_seg		k1 = {kp, NULL, 0, 0};
	js_seg		k2 = {&k1, NULL, 0, 0};
	int			valid = 1;
	size_t		cur = 0;

	memset(&it, 0, sizeof it);
	while (c->acc->object_next(c->acc->ctx, in, &it, &key, &kl, &v))
	{
		int			matched = 0;
		const js_schema *ps = s->n_props ? next_prop(s, key, kl, &cur, &k2.s) : NULL;

		is.s = key;
		is.len = kl;
		if (ps)
		{
			k1.s = "properties";
			k1.len = 10;
			k2.len = kl;
			matched = 1;
			if (!js_eval_child(c, ps, v, idepth + 1, &is, &k2, NULL, depth + 1))
				JS_FAIL();
		}
		if (s->n_pprops &&
			!eval_member_patterns(c, s, key, kl, v, idepth, &is, ip, kp, depth, &matched))
		{
			if (c->oom || c->limit)
				return 0;
			JS_FAIL();
		}
		if (!matched && s->addl_props)
		{
			k1.s = "additionalProperties";
			k1.len = 20;
			matched = 1;
			if (!js_eval_child(c, s->addl_props, v, idepth + 1, &is, &k1, NULL, depth + 1))
				JS_FAIL();
		}
		if (matched)
			js_ann_set(a, idx);
		if (s->prop_names && !eval_member_name(c, s, key, kl, idepth, &is, ip, kp, depth))
		{
			if (c->stop)
				return 0;
			JS_FAIL();
		}
		idx++;
	}
	return valid;
}

/* the other object keywords: counts, required, dependencies */
JS_NOINLINE int
js_eval_object(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			   const js_seg *ip, const js_seg *kp, js_ann *a, int depth)
{
	int			valid = 1;

	if ((s->flags & (JS_F_MINPROPS | JS_F_MAXPROPS) || s->required.n || s->n_dep_req) &&
		!eval_object_counts(c, s, in, ip, kp))
	{
		if (c->oom || c->limit)
			return 0;
		JS_FAIL();
	}
	for (size_t d = 0; d < s->n_dep_schemas; d++)
	{
		const js_named *ds = &s->dep_schemas[d];

		if (has_prop(c, in, ds->name, ds->len))
		{
			js_seg		k1 = {kp, s->dep_kw, strlen(s->dep_kw), 0};
			js_seg		k2 = {&k1, ds->name, ds->len, 0};

			if (!js_eval(c, ds->s, in, idepth, ip, &k2, a, depth + 1))
				JS_FAIL();
		}
	}
	return valid;
}
