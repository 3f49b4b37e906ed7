/*
 * risk_agg.c
 *	  Aggregates that score any set of spans: risk_score(span_type_id,
 *	  revision) and risk_breakdown(span_type_id, revision).  Both use the
 *	  same transition, so a query computing both keeps one shared state.
 *
 * The transition only counts spans per (span type, revision): no numeric
 * arithmetic, no text and no lookups per row.  The final functions multiply each
 * count by the type's points, looked up once per (span type, revision) in
 * the backend cache, so results equal the live scores kept on instances.
 * States combine, serialize and deserialize for parallel and distributed
 * aggregation.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "risk.h"

#define RISK_HAS_TYPE		0x01
#define RISK_HAS_REVISION	0x02
#define RISK_INDEX_FROM		8	/* build a hash index above this many entries */

#define RISK_INLINE_ENTRIES	5	/* header + 5 entries fill a 128-byte chunk */
#define RISK_MAX_PAIRS		(1 << 20)

/*
 * A (span type, revision) pair, interned for the backend so that a group's
 * state holds a pointer and a count (16 bytes) instead of the 41-byte key.
 */
typedef struct RiskPair
{
	Pfid		span_type_id;	/* zeroes unless RISK_HAS_TYPE */
	Pfid		revision_id;	/* zeroes unless RISK_HAS_REVISION */
	uint8		flags;
} RiskPair;

/* Spans counted under one pair. */
typedef struct RiskAggEntry
{
	const RiskPair *pair;
	int64		count;
} RiskAggEntry;

typedef struct RiskAggState
{
	int64		nspans;			/* every span seen */
	int64		nscored;		/* spans of runs with a profile revision */
	int32		nentries;
	int32		maxentries;
	int32		last;			/* entry hit by the previous row */
	int32		indexsize;		/* 0 or the size of index */
	RiskAggEntry *entries;		/* inline_entries or a separate array */
	int		   *index;			/* open addressing over entries, -1 = empty */
	RiskAggEntry inline_entries[FLEXIBLE_ARRAY_MEMBER];
} RiskAggState;

#define RISK_STATE_SIZE	(offsetof(RiskAggState, inline_entries) + RISK_INLINE_ENTRIES * sizeof(RiskAggEntry))

static HTAB *RiskPairs = NULL;
static const RiskPair *RiskRecentPairs[8];
static int	RiskRecentNext = 0;

/* The interned copy of a pair (backend lifetime, under TopMemoryContext). */
static const RiskPair *
risk_pair_intern(const RiskPair *key)
{
	bool		found;
	const RiskPair *pair;
	int			i;

	for (i = 0; i < lengthof(RiskRecentPairs); i++)
		if (RiskRecentPairs[i] && memcmp(RiskRecentPairs[i], key, sizeof(RiskPair)) == 0)
			return RiskRecentPairs[i];
	if (RiskPairs == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(RiskPair);
		ctl.entrysize = sizeof(RiskPair);
		ctl.hcxt = AllocSetContextCreate(TopMemoryContext, "prefactor risk pairs",
										 ALLOCSET_DEFAULT_SIZES);
		RiskPairs = hash_create("prefactor risk pairs", 1024, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (hash_get_num_entries(RiskPairs) >= RISK_MAX_PAIRS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct (span type, risk profile revision) pairs in one backend: %d",
						RISK_MAX_PAIRS),
				 errhint("Reconnect, or aggregate fewer accounts at once.")));
	pair = (const RiskPair *) hash_search(RiskPairs, key, HASH_ENTER, &found);
	RiskRecentPairs[RiskRecentNext] = pair;
	RiskRecentNext = (RiskRecentNext + 1) % lengthof(RiskRecentPairs);
	return pair;
}

/* One group's state in the aggregate context. */
static RiskAggState *
risk_state_new(MemoryContext aggcxt)
{
	RiskAggState *state = MemoryContextAlloc(aggcxt, RISK_STATE_SIZE);

	state->nspans = 0;
	state->nscored = 0;
	state->nentries = 0;
	state->maxentries = RISK_INLINE_ENTRIES;
	state->last = -1;
	state->indexsize = 0;
	state->entries = state->inline_entries;
	state->index = NULL;
	return state;
}

/* Hash of a pair. */
static inline uint32
risk_pair_hash(const RiskPair *p)
{
	return hash_bytes((const unsigned char *) p, sizeof(RiskPair));
}

/* Whether an entry counts this pair. */
static inline bool
risk_entry_is(const RiskAggEntry *e, const RiskPair *key)
{
	return memcmp(e->pair, key, sizeof(RiskPair)) == 0;
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
		uint32		slot = risk_pair_hash(state->entries[i].pair) & (size - 1);

		while (state->index[slot] >= 0)
			slot = (slot + 1) & (size - 1);
		state->index[slot] = i;
	}
}

/* Add count spans under a (type, revision) pair. */
static void
risk_state_add(MemoryContext aggcxt, RiskAggState *state,
			   const RiskPair *key, int64 count)
{
	RiskAggEntry *e;
	int			i;

	if (state->last >= 0 && risk_entry_is(&state->entries[state->last], key))
	{
		state->entries[state->last].count += count;
		return;
	}
	if (state->index)
	{
		uint32		slot = risk_pair_hash(key) & (state->indexsize - 1);

		while ((i = state->index[slot]) >= 0)
		{
			if (risk_entry_is(&state->entries[i], key))
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
			if (risk_entry_is(&state->entries[i], key))
			{
				state->entries[i].count += count;
				state->last = i;
				return;
			}
	}

	if (state->nentries == state->maxentries)
	{
		RiskAggEntry *grown = MemoryContextAlloc(aggcxt, sizeof(RiskAggEntry) * state->maxentries * 2);

		memcpy(grown, state->entries, sizeof(RiskAggEntry) * state->nentries);
		if (state->entries != state->inline_entries)
			pfree(state->entries);
		state->entries = grown;
		state->maxentries *= 2;
	}
	i = state->nentries++;
	e = &state->entries[i];
	e->pair = risk_pair_intern(key);
	e->count = count;
	state->last = i;
	if (state->index && state->nentries * 2 <= state->indexsize)
	{
		uint32		slot = risk_pair_hash(key) & (state->indexsize - 1);

		while (state->index[slot] >= 0)
			slot = (slot + 1) & (state->indexsize - 1);
		state->index[slot] = i;
	}
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

PG_FUNCTION_INFO_V1(prefactor_risk_agg_trans);
/* Transition of both aggregates: count one span by (span_type_id, revision). */
Datum
prefactor_risk_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = risk_agg_context(fcinfo, "risk_agg_trans");
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskPair	key;

	if (state == NULL)
		state = risk_state_new(aggcxt);
	state->nspans++;
	key.flags = 0;
	if (PG_ARGISNULL(2))
		memset(&key.revision_id, 0, sizeof(Pfid));
	else
	{
		state->nscored++;
		key.flags |= RISK_HAS_REVISION;
		memcpy(&key.revision_id, PG_GETARG_PFID_P(2), sizeof(Pfid));
	}
	if (PG_ARGISNULL(1))
		memset(&key.span_type_id, 0, sizeof(Pfid));
	else
	{
		key.flags |= RISK_HAS_TYPE;
		memcpy(&key.span_type_id, PG_GETARG_PFID_P(1), sizeof(Pfid));
	}
	risk_state_add(aggcxt, state, &key, 1);
	PG_RETURN_POINTER(state);
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
		risk_state_add(aggcxt, s1, s2->entries[i].pair, s2->entries[i].count);
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

		pq_sendbyte(&buf, e->pair->flags);
		pq_sendbytes(&buf, (const char *) &e->pair->span_type_id, sizeof(Pfid));
		pq_sendbytes(&buf, (const char *) &e->pair->revision_id, sizeof(Pfid));
		pq_sendint64(&buf, e->count);
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
		RiskPair	key;
		int64		count;

		key.flags = pq_getmsgbyte(&buf);
		pq_copymsgbytes(&buf, (char *) &key.span_type_id, sizeof(Pfid));
		pq_copymsgbytes(&buf, (char *) &key.revision_id, sizeof(Pfid));
		count = pq_getmsgint64(&buf);
		risk_state_add(aggcxt, state, &key, count);
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(state);
}

/* A sum of points: whole numbers in int64 while they fit, the rest in numeric. */
typedef struct RiskSum
{
	bool		any;			/* something was added */
	int64		i;
	Numeric		n;				/* NULL = 0 */
} RiskSum;

/* Add a numeric to a sum. */
static void
risk_sum_numeric(RiskSum *sum, Numeric x)
{
	sum->any = true;
	sum->n = sum->n == NULL ? x :
		DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum->n), NumericGetDatum(x)));
}

/* Add the points of an entry's spans (count x type points) to a sum. */
static void
risk_sum_entry(RiskSum *sum, const RiskAggEntry *e)
{
	const RiskTypeInfo *info;
	int64		m;

	if (e->pair->flags != (RISK_HAS_TYPE | RISK_HAS_REVISION))
		return;
	sum->any = true;
	info = risk_type_lookup(&e->pair->span_type_id, &e->pair->revision_id);
	if (info == NULL || !info->scores)
		return;
	if (info->integral && !pg_mul_s64_overflow(e->count, info->ipoints, &m) &&
		!pg_add_s64_overflow(sum->i, m, &m))
	{
		sum->i = m;
		return;
	}
	risk_sum_numeric(sum, DatumGetNumeric(DirectFunctionCall2(numeric_mul,
															  NumericGetDatum(int64_to_numeric(e->count)),
															  NumericGetDatum(info->points))));
}

/* Add one sum to another. */
static void
risk_sum_add(RiskSum *sum, const RiskSum *other)
{
	int64		m;

	if (!other->any)
		return;
	sum->any = true;
	if (!pg_add_s64_overflow(sum->i, other->i, &m))
		sum->i = m;
	else
		risk_sum_numeric(sum, int64_to_numeric(other->i));
	if (other->n)
		risk_sum_numeric(sum, other->n);
}

/* The value of a sum; NULL if nothing was added. */
static Numeric
risk_sum_value(const RiskSum *sum)
{
	if (!sum->any)
		return NULL;
	if (sum->n == NULL)
		return int64_to_numeric(sum->i);
	if (sum->i == 0)
		return sum->n;
	return DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(sum->n),
											   NumericGetDatum(int64_to_numeric(sum->i))));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_score);
/* risk_score final: the sum of every entry's points; NULL if none scored. */
Datum
prefactor_risk_agg_score(PG_FUNCTION_ARGS)
{
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskSum		total = {false, 0, NULL};
	int			i;

	if (state == NULL || state->nscored == 0)
		PG_RETURN_NULL();
	for (i = 0; i < state->nentries; i++)
		risk_sum_entry(&total, &state->entries[i]);
	total.any = true;
	PG_RETURN_NUMERIC(risk_sum_value(&total));
}

/* One line of a breakdown: a span type name, its spans and points. */
typedef struct RiskBreakdownLine
{
	const char *name;			/* NULL: spans of undeclared types */
	int64		count;
	RiskSum		sum;
	Numeric		points;			/* value of sum, set after merging; NULL = none */
} RiskBreakdownLine;

/* Compare two names, NULL (undeclared) last. */
static int
risk_name_cmp(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

/* qsort: by name. */
static int
risk_line_name_cmp(const void *a, const void *b)
{
	return risk_name_cmp(((const RiskBreakdownLine *) a)->name, ((const RiskBreakdownLine *) b)->name);
}

/* qsort: most points first, then by name. */
static int
risk_line_points_cmp(const void *a, const void *b)
{
	const RiskBreakdownLine *x = a;
	const RiskBreakdownLine *y = b;
	int			c;

	if (x->points == NULL || y->points == NULL)
		c = (x->points == NULL) - (y->points == NULL);
	else
		c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(y->points),
											  NumericGetDatum(x->points)));
	return c != 0 ? c : risk_name_cmp(x->name, y->name);
}

/* Push "key": value pairs into a jsonb object under construction. */
static void
risk_push_key(JsonbParseState **ps, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(ps, WJB_KEY, &v);
}

/* Push a numeric (or null) value. */
static void
risk_push_numeric(JsonbParseState **ps, Numeric n)
{
	JsonbValue	v;

	if (n == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = n;
	}
	pushJsonbValue(ps, WJB_VALUE, &v);
}

/* count / total rounded to 4 decimals, trailing zeros trimmed, as a numeric. */
static Numeric
risk_share(int64 count, int64 total)
{
	int64		v = (count * 20000 + total) / (2 * total);	/* ten-thousandths */
	int			scale = 4;

	while (scale > 0 && v % 10 == 0)
	{
		v /= 10;
		scale--;
	}
	return int64_div_fast_to_numeric(v, scale);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_breakdown);
/* risk_breakdown final: {total, spans, types: [{span_type, count, share, points}]}. */
Datum
prefactor_risk_agg_breakdown(PG_FUNCTION_ARGS)
{
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskBreakdownLine *lines;
	int			nlines = 0;
	RiskSum		total = {false, 0, NULL};
	bool		scored;
	JsonbParseState *ps = NULL;
	JsonbValue	v;
	JsonbValue *result;
	int			i;

	if (state == NULL || state->nspans == 0)
		PG_RETURN_NULL();
	scored = state->nscored > 0;

	/* one line per entry, then merged by name */
	lines = palloc(sizeof(RiskBreakdownLine) * Max(state->nentries, 1));
	for (i = 0; i < state->nentries; i++)
	{
		RiskAggEntry *e = &state->entries[i];

		lines[nlines].name = (e->pair->flags & RISK_HAS_TYPE) ? risk_type_name(&e->pair->span_type_id) : NULL;
		lines[nlines].count = e->count;
		memset(&lines[nlines].sum, 0, sizeof(RiskSum));
		risk_sum_entry(&lines[nlines].sum, e);
		risk_sum_add(&total, &lines[nlines].sum);
		nlines++;
	}
	qsort(lines, nlines, sizeof(RiskBreakdownLine), risk_line_name_cmp);
	if (nlines > 1)
	{
		int			out = 0;

		for (i = 1; i < nlines; i++)
		{
			if (risk_name_cmp(lines[i].name, lines[out].name) == 0)
			{
				lines[out].count += lines[i].count;
				risk_sum_add(&lines[out].sum, &lines[i].sum);
			}
			else
				lines[++out] = lines[i];
		}
		nlines = out + 1;
	}
	for (i = 0; i < nlines; i++)
	{
		lines[i].points = risk_sum_value(&lines[i].sum);
		if (scored && lines[i].points == NULL)
			lines[i].points = int64_to_numeric(0);
	}
	qsort(lines, nlines, sizeof(RiskBreakdownLine), risk_line_points_cmp);

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	risk_push_key(&ps, "total");
	total.any = scored;
	risk_push_numeric(&ps, risk_sum_value(&total));
	risk_push_key(&ps, "spans");
	risk_push_numeric(&ps, int64_to_numeric(state->nspans));
	risk_push_key(&ps, "types");
	pushJsonbValue(&ps, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < nlines; i++)
	{
		pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
		risk_push_key(&ps, "span_type");
		if (lines[i].name)
		{
			v.type = jbvString;
			v.val.string.val = (char *) lines[i].name;
			v.val.string.len = strlen(lines[i].name);
		}
		else
			v.type = jbvNull;
		pushJsonbValue(&ps, WJB_VALUE, &v);
		risk_push_key(&ps, "count");
		risk_push_numeric(&ps, int64_to_numeric(lines[i].count));
		risk_push_key(&ps, "share");
		risk_push_numeric(&ps, risk_share(lines[i].count, state->nspans));
		risk_push_key(&ps, "points");
		risk_push_numeric(&ps, lines[i].points);
		pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	}
	pushJsonbValue(&ps, WJB_END_ARRAY, NULL);
	result = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}
