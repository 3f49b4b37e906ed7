/*
 * risk_agg.c
 *	  Aggregates that score any set of spans: risk_score(span_type_id,
 *	  revision) and risk_breakdown(span_type, span_type_id, revision).
 *
 * The transition only counts spans per (span type, revision): no numeric
 * arithmetic and no lookups per row.  The final functions multiply each
 * count by the type's points, looked up once per (span type, revision) in
 * the backend cache, so results equal the live scores kept on instances.
 * States combine, serialize and deserialize for parallel and distributed
 * aggregation.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "risk.h"

#define RISK_HAS_TYPE		0x01
#define RISK_HAS_REVISION	0x02
#define RISK_INDEX_FROM		8	/* build a hash index above this many entries */

/* Spans counted under one (span type, revision); name kept for breakdowns. */
typedef struct RiskAggEntry
{
	Pfid		span_type_id;	/* zeroes unless RISK_HAS_TYPE */
	Pfid		revision_id;	/* zeroes unless RISK_HAS_REVISION */
	uint8		flags;
	char	   *name;			/* span type name, or NULL (risk_score) */
	int64		count;
} RiskAggEntry;

typedef struct RiskAggState
{
	int64		nspans;			/* every span seen */
	int64		nscored;		/* spans of runs with a profile revision */
	int			nentries;
	int			maxentries;
	int			last;			/* entry hit by the previous row */
	RiskAggEntry *entries;
	int		   *index;			/* open addressing, -1 = empty; or NULL */
	int			indexsize;
} RiskAggState;

/* One group's state in the aggregate context. */
static RiskAggState *
risk_state_new(MemoryContext aggcxt)
{
	RiskAggState *state = MemoryContextAllocZero(aggcxt, sizeof(RiskAggState));

	state->maxentries = 4;
	state->entries = MemoryContextAlloc(aggcxt, sizeof(RiskAggEntry) * state->maxentries);
	state->last = -1;
	return state;
}

/* Hash of an entry's key. */
static uint32
risk_entry_hash(const RiskAggEntry *e)
{
	uint32		h = hash_bytes((const unsigned char *) &e->span_type_id, 2 * sizeof(Pfid));

	h ^= e->flags;
	if (!(e->flags & RISK_HAS_TYPE) && e->name != NULL)
		h = hash_combine(h, hash_bytes((const unsigned char *) e->name, strlen(e->name)));
	return h;
}

/* Whether two entries have the same key. */
static inline bool
risk_entry_equal(const RiskAggEntry *a, const RiskAggEntry *b)
{
	if (a->flags != b->flags ||
		memcmp(&a->span_type_id, &b->span_type_id, 2 * sizeof(Pfid)) != 0)
		return false;
	if (a->flags & RISK_HAS_TYPE)
		return true;			/* a type id determines its name */
	if (a->name == NULL || b->name == NULL)
		return a->name == b->name;
	return strcmp(a->name, b->name) == 0;
}

/* Rebuild the hash index over all entries. */
static void
risk_index_build(MemoryContext aggcxt, RiskAggState *state)
{
	int			size = 16;
	int			i;

	while (size < state->nentries * 4)
		size *= 2;
	if (state->index)
		pfree(state->index);
	state->index = MemoryContextAlloc(aggcxt, sizeof(int) * size);
	memset(state->index, -1, sizeof(int) * size);
	state->indexsize = size;
	for (i = 0; i < state->nentries; i++)
	{
		uint32		slot = risk_entry_hash(&state->entries[i]) & (size - 1);

		while (state->index[slot] >= 0)
			slot = (slot + 1) & (size - 1);
		state->index[slot] = i;
	}
}

/* Add count spans under key's (type, revision[, name]); name copied if new. */
static void
risk_state_add(MemoryContext aggcxt, RiskAggState *state,
			   const RiskAggEntry *key, int64 count)
{
	RiskAggEntry *e;
	int			i;
	uint32		slot = 0;

	if (state->last >= 0 && risk_entry_equal(&state->entries[state->last], key))
	{
		state->entries[state->last].count += count;
		return;
	}
	if (state->index)
	{
		slot = risk_entry_hash(key) & (state->indexsize - 1);
		while ((i = state->index[slot]) >= 0)
		{
			if (risk_entry_equal(&state->entries[i], key))
			{
				state->entries[i].count += count;
				state->last = i;
				return;
			}
			slot = (slot + 1) & (state->indexsize - 1);
		}
	}
	else
	{
		for (i = 0; i < state->nentries; i++)
			if (risk_entry_equal(&state->entries[i], key))
			{
				state->entries[i].count += count;
				state->last = i;
				return;
			}
	}

	if (state->nentries == state->maxentries)
	{
		state->maxentries *= 2;
		state->entries = repalloc(state->entries, sizeof(RiskAggEntry) * state->maxentries);
	}
	i = state->nentries++;
	e = &state->entries[i];
	*e = *key;
	e->count = count;
	e->name = key->name ? MemoryContextStrdup(aggcxt, key->name) : NULL;
	state->last = i;
	if (state->index && state->nentries * 2 <= state->indexsize)
		state->index[slot] = i;
	else if (state->nentries > RISK_INDEX_FROM)
		risk_index_build(aggcxt, state);
}

/* The aggregate context, or an error if not called as an aggregate. */
static MemoryContext
risk_agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("%s called in non-aggregate context", fname)));
	return aggcxt;
}

/* Shared transition: count one span; typearg/revarg are argument numbers. */
static Datum
risk_trans(FunctionCallInfo fcinfo, int namearg, int typearg, int revarg)
{
	MemoryContext aggcxt = risk_agg_context(fcinfo, "risk_agg_trans");
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskAggEntry key;
	text	   *name = NULL;

	if (state == NULL)
		state = risk_state_new(aggcxt);
	state->nspans++;
	memset(&key, 0, sizeof(key));
	if (!PG_ARGISNULL(revarg))
	{
		state->nscored++;
		key.flags |= RISK_HAS_REVISION;
		memcpy(&key.revision_id, PG_GETARG_PFID_P(revarg), sizeof(Pfid));
	}
	if (!PG_ARGISNULL(typearg))
	{
		key.flags |= RISK_HAS_TYPE;
		memcpy(&key.span_type_id, PG_GETARG_PFID_P(typearg), sizeof(Pfid));
	}
	if (namearg < 0)
	{
		/* risk_score: only spans of a declared type under a revision count */
		if (key.flags != (RISK_HAS_TYPE | RISK_HAS_REVISION))
			PG_RETURN_POINTER(state);
	}
	else if (!PG_ARGISNULL(namearg))
	{
		/* fast path: the previous row's entry, compared without the name */
		if ((key.flags & RISK_HAS_TYPE) && state->last >= 0 &&
			risk_entry_equal(&state->entries[state->last], &key))
		{
			state->entries[state->last].count++;
			PG_RETURN_POINTER(state);
		}
		name = PG_GETARG_TEXT_PP(namearg);
		key.name = text_to_cstring(name);
	}
	risk_state_add(aggcxt, state, &key, 1);
	if (key.name)
		pfree(key.name);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_trans);
/* risk_score transition: (state, span_type_id, revision). */
Datum
prefactor_risk_agg_trans(PG_FUNCTION_ARGS)
{
	return risk_trans(fcinfo, -1, 1, 2);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_trans_named);
/* risk_breakdown transition: (state, span_type, span_type_id, revision). */
Datum
prefactor_risk_agg_trans_named(PG_FUNCTION_ARGS)
{
	return risk_trans(fcinfo, 1, 2, 3);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_combine);
/* Merge the second partial state into the first. */
Datum
prefactor_risk_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = risk_agg_context(fcinfo, "risk_agg_combine");
	RiskAggState *s1 = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskAggState *s2 = PG_ARGISNULL(1) ? NULL : (RiskAggState *) PG_GETARG_POINTER(1);
	int			i;

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		s1 = risk_state_new(aggcxt);
	s1->nspans += s2->nspans;
	s1->nscored += s2->nscored;
	for (i = 0; i < s2->nentries; i++)
		risk_state_add(aggcxt, s1, &s2->entries[i], s2->entries[i].count);
	PG_RETURN_POINTER(s1);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_serialize);
/* Partial state to bytea. */
Datum
prefactor_risk_agg_serialize(PG_FUNCTION_ARGS)
{
	RiskAggState *state;
	StringInfoData buf;
	int			i;

	(void) risk_agg_context(fcinfo, "risk_agg_serialize");
	state = (RiskAggState *) PG_GETARG_POINTER(0);
	pq_begintypsend(&buf);
	pq_sendint64(&buf, state->nspans);
	pq_sendint64(&buf, state->nscored);
	pq_sendint32(&buf, state->nentries);
	for (i = 0; i < state->nentries; i++)
	{
		RiskAggEntry *e = &state->entries[i];

		pq_sendbyte(&buf, e->flags);
		pq_sendbytes(&buf, (const char *) &e->span_type_id, sizeof(Pfid));
		pq_sendbytes(&buf, (const char *) &e->revision_id, sizeof(Pfid));
		pq_sendint64(&buf, e->count);
		if (e->name)
		{
			int			len = strlen(e->name);

			pq_sendint32(&buf, len);
			pq_sendbytes(&buf, e->name, len);
		}
		else
			pq_sendint32(&buf, -1);
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_deserialize);
/* Partial state from bytea. */
Datum
prefactor_risk_agg_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = risk_agg_context(fcinfo, "risk_agg_deserialize");
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	RiskAggState *state = risk_state_new(aggcxt);
	StringInfoData buf;
	int			n;
	int			i;

	buf.data = VARDATA_ANY(bytes);
	buf.len = VARSIZE_ANY_EXHDR(bytes);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	state->nspans = pq_getmsgint64(&buf);
	state->nscored = pq_getmsgint64(&buf);
	n = pq_getmsgint(&buf, 4);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid risk aggregate state: %d entries", n)));
	for (i = 0; i < n; i++)
	{
		RiskAggEntry key;
		int			len;

		memset(&key, 0, sizeof(key));
		key.flags = pq_getmsgbyte(&buf);
		pq_copymsgbytes(&buf, (char *) &key.span_type_id, sizeof(Pfid));
		pq_copymsgbytes(&buf, (char *) &key.revision_id, sizeof(Pfid));
		key.count = pq_getmsgint64(&buf);
		len = pq_getmsgint(&buf, 4);
		if (len >= 0)
			key.name = pnstrdup(pq_getmsgbytes(&buf, len), len);
		risk_state_add(aggcxt, state, &key, key.count);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* Points an entry's spans add: count x type points, or NULL for none. */
static Numeric
risk_entry_points(const RiskAggEntry *e)
{
	const RiskTypeInfo *info;

	if (e->flags != (RISK_HAS_TYPE | RISK_HAS_REVISION))
		return NULL;
	info = risk_type_lookup(&e->span_type_id, &e->revision_id);
	if (info == NULL || !info->scores)
		return NULL;
	return DatumGetNumeric(DirectFunctionCall2(numeric_mul,
											   NumericGetDatum(int64_to_numeric(e->count)),
											   NumericGetDatum(info->points)));
}

/* Sum of two numerics, either of which may be NULL (zero). */
static Numeric
risk_add(Numeric a, Numeric b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(a), NumericGetDatum(b)));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_score);
/* risk_score final: the sum of every entry's points; NULL if none scored. */
Datum
prefactor_risk_agg_score(PG_FUNCTION_ARGS)
{
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	Numeric		total = NULL;
	int			i;

	if (state == NULL || state->nscored == 0)
		PG_RETURN_NULL();
	for (i = 0; i < state->nentries; i++)
		total = risk_add(total, risk_entry_points(&state->entries[i]));
	PG_RETURN_NUMERIC(total ? total : int64_to_numeric(0));
}

/* One line of a breakdown: a span type name, its spans and points. */
typedef struct RiskBreakdownLine
{
	const char *name;
	int64		count;
	Numeric		points;			/* NULL = 0 */
} RiskBreakdownLine;

/* qsort: by name. */
static int
risk_line_name_cmp(const void *a, const void *b)
{
	return strcmp(((const RiskBreakdownLine *) a)->name, ((const RiskBreakdownLine *) b)->name);
}

/* qsort: most points first, then by name. */
static int
risk_line_points_cmp(const void *a, const void *b)
{
	const RiskBreakdownLine *x = a;
	const RiskBreakdownLine *y = b;
	Numeric		px = x->points ? x->points : int64_to_numeric(0);
	Numeric		py = y->points ? y->points : int64_to_numeric(0);
	int			c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(py), NumericGetDatum(px)));

	return c != 0 ? c : strcmp(x->name, y->name);
}

/* Append a numeric to a JSON text, or null. */
static void
risk_append_numeric(StringInfo buf, Numeric n)
{
	if (n == NULL)
		appendStringInfoString(buf, "null");
	else
		appendStringInfoString(buf, DatumGetCString(DirectFunctionCall1(numeric_out,
																		NumericGetDatum(n))));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_breakdown);
/* risk_breakdown final: {total, spans, types: [{span_type, count, share, points}]}. */
Datum
prefactor_risk_agg_breakdown(PG_FUNCTION_ARGS)
{
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskBreakdownLine *lines;
	int			nlines = 0;
	Numeric		total = NULL;
	Numeric		nspans;
	StringInfoData buf;
	int			i;

	if (state == NULL || state->nspans == 0)
		PG_RETURN_NULL();

	/* one line per entry, then merged by name */
	lines = palloc(sizeof(RiskBreakdownLine) * Max(state->nentries, 1));
	for (i = 0; i < state->nentries; i++)
	{
		RiskAggEntry *e = &state->entries[i];

		if (e->name == NULL)
			continue;
		lines[nlines].name = e->name;
		lines[nlines].count = e->count;
		lines[nlines].points = risk_entry_points(e);
		total = risk_add(total, lines[nlines].points);
		nlines++;
	}
	qsort(lines, nlines, sizeof(RiskBreakdownLine), risk_line_name_cmp);
	if (nlines > 1)
	{
		int			out = 0;

		for (i = 1; i < nlines; i++)
		{
			if (strcmp(lines[i].name, lines[out].name) == 0)
			{
				lines[out].count += lines[i].count;
				lines[out].points = risk_add(lines[out].points, lines[i].points);
			}
			else
				lines[++out] = lines[i];
		}
		nlines = out + 1;
	}
	qsort(lines, nlines, sizeof(RiskBreakdownLine), risk_line_points_cmp);

	nspans = int64_to_numeric(state->nspans);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"total\": ");
	risk_append_numeric(&buf, state->nscored == 0 ? NULL : (total ? total : int64_to_numeric(0)));
	appendStringInfo(&buf, ", \"spans\": " INT64_FORMAT ", \"types\": [", state->nspans);
	for (i = 0; i < nlines; i++)
	{
		Numeric		share;

		share = DatumGetNumeric(DirectFunctionCall2(numeric_div,
													NumericGetDatum(int64_to_numeric(lines[i].count)),
													NumericGetDatum(nspans)));
		share = DatumGetNumeric(DirectFunctionCall2(numeric_round, NumericGetDatum(share),
													Int32GetDatum(4)));
		share = DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(share)));
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"span_type\": ");
		escape_json(&buf, lines[i].name);
		appendStringInfo(&buf, ", \"count\": " INT64_FORMAT ", \"share\": ", lines[i].count);
		risk_append_numeric(&buf, share);
		appendStringInfoString(&buf, ", \"points\": ");
		risk_append_numeric(&buf, state->nscored == 0 ? NULL :
							(lines[i].points ? lines[i].points : int64_to_numeric(0)));
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
