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
 *
 * With a parallel plan the leader deserializes, combines and finalizes every
 * group alone, after the workers are done, so that path is kept lean: the
 * interned pair remembers its cache lookups, deserialized states live in the
 * per-row context, and the breakdown's jsonb is assembled as one value tree
 * (keys already in jsonb order) rather than pushed item by item.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "common/hashfn.h"
#include "common/int.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "access/account_access.h"
#include "risk/risk.h"

#define RISK_HAS_TYPE		0x01
#define RISK_HAS_REVISION	0x02
#define RISK_INDEX_FROM		8	/* build a hash index above this many entries */

#define RISK_INLINE_ENTRIES	5	/* header + 5 entries fill a 128-byte chunk */
#define RISK_MAX_PAIRS		(1 << 20)

/* A (span type, revision) pair: the key spans are counted by. */
typedef struct RiskPair
{
	Pfid		span_type_id;	/* zeroes unless RISK_HAS_TYPE */
	Pfid		revision_id;	/* zeroes unless RISK_HAS_REVISION */
	uint8		flags;
} RiskPair;

/*
 * A pair interned for the backend, so that a group's state holds a pointer
 * and a count (16 bytes) instead of the 41-byte key, and equal pairs are the
 * same pointer.  It also keeps what the final functions look up for the pair
 * (points, name), valid while risk_cache_generation is unchanged, so that
 * finalizing a group costs no hash lookups.
 */
typedef struct RiskPairEntry
{
	RiskPair	key;			/* hash key: must be first */
	uint64		info_generation;	/* 0 = info not looked up yet */
	uint64		name_generation;	/* 0 = name not looked up yet */
	const RiskTypeInfo *info;
	const char *name;
	Oid			visible_to;		/* the role the visibility verdict is for */
	uint64		visible_generation; /* access answers it holds under; 0 = none */
	bool		visible;
} RiskPairEntry;

/* Spans counted under one pair. */
typedef struct RiskAggEntry
{
	RiskPairEntry *pair;
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
static RiskPairEntry *RiskRecentPairs[8];
static int	RiskRecentNext = 0;

/* The interned copy of a pair (backend lifetime, under TopMemoryContext). */
static RiskPairEntry *
risk_pair_intern(const RiskPair *key)
{
	bool		found;
	RiskPairEntry *pair;
	int			i;

	for (i = 0; i < lengthof(RiskRecentPairs); i++)
		if (RiskRecentPairs[i] && memcmp(&RiskRecentPairs[i]->key, key, sizeof(RiskPair)) == 0)
			return RiskRecentPairs[i];
	if (RiskPairs == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(RiskPair);
		ctl.entrysize = sizeof(RiskPairEntry);
		ctl.hcxt = AllocSetContextCreate(TopMemoryContext, "prefactor risk pairs",
										 ALLOCSET_DEFAULT_SIZES);
		RiskPairs = hash_create("prefactor risk pairs", 1024, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (hash_get_num_entries(RiskPairs) >= RISK_MAX_PAIRS &&
		hash_search(RiskPairs, key, HASH_FIND, NULL) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct (span type, risk profile revision) pairs in one backend: %d",
						RISK_MAX_PAIRS),
				 errhint("Reconnect, or aggregate fewer accounts at once.")));
	pair = (RiskPairEntry *) hash_search(RiskPairs, key, HASH_ENTER, &found);
	if (!found)
	{
		pair->info_generation = 0;
		pair->name_generation = 0;
		pair->info = NULL;
		pair->name = NULL;
		pair->visible_to = InvalidOid;
		pair->visible_generation = 0;
		pair->visible = false;
	}
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

/*
 * Whether an entry counts this pair: an interned pair is compared by
 * pointer, a key by content.
 */
static inline bool
risk_entry_is(const RiskAggEntry *e, const RiskPair *key, const RiskPairEntry *interned)
{
	if (interned)
		return e->pair == interned;
	return memcmp(&e->pair->key, key, sizeof(RiskPair)) == 0;
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
		uint32		slot = risk_pair_hash(&state->entries[i].pair->key) & (size - 1);

		while (state->index[slot] >= 0)
			slot = (slot + 1) & (size - 1);
		state->index[slot] = i;
	}
}

/*
 * Add count spans under a (type, revision) pair: a key, or an interned pair
 * (key NULL) when adding another state's entries.
 */
static void
risk_state_add(MemoryContext aggcxt, RiskAggState *state,
			   const RiskPair *key, RiskPairEntry *interned, int64 count)
{
	RiskAggEntry *e;
	int			i;

	if (interned)
		key = &interned->key;
	if (state->last >= 0 && risk_entry_is(&state->entries[state->last], key, interned))
	{
		state->entries[state->last].count += count;
		return;
	}
	if (state->index)
	{
		uint32		slot = risk_pair_hash(key) & (state->indexsize - 1);

		while ((i = state->index[slot]) >= 0)
		{
			if (risk_entry_is(&state->entries[i], key, interned))
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
			if (risk_entry_is(&state->entries[i], key, interned))
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
	e->pair = interned ? interned : risk_pair_intern(key);
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

/*
 * Counts one span by (span_type_id, revision), the transition's arguments 1
 * and 2, into a state (a new one in aggcxt for NULL); returns the state.
 * Shared by the transition of the internal state and of risk_agg_state.
 */
void *
risk_agg_count(MemoryContext aggcxt, void *arg, FunctionCallInfo fcinfo)
{
	RiskAggState *state = (RiskAggState *) arg;
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
	risk_state_add(aggcxt, state, &key, NULL, 1);
	return state;
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_trans);
/* Transition of both aggregates over the internal state. */
Datum
prefactor_risk_agg_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = risk_agg_context(fcinfo, "risk_agg_trans");

	PG_RETURN_POINTER(risk_agg_count(aggcxt, PG_ARGISNULL(0) ? NULL : PG_GETARG_POINTER(0), fcinfo));
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
		risk_state_add(aggcxt, s1, NULL, s2->entries[i].pair, s2->entries[i].count);
	PG_RETURN_POINTER(s1);
}

/*
 * Serialized state, integers in network byte order:
 *
 *	int64 nspans, int64 nscored,
 *	int32 nrevisions, nrevisions x pfid (the revisions entries refer to),
 *	int32 nentries, each: uint8 flags, pfid span type (if RISK_HAS_TYPE),
 *		int32 index into the revisions (if RISK_HAS_REVISION), int64 count.
 *
 * A group's spans nearly always share one revision, so listing revisions once
 * keeps the state at about two thirds of the 49 bytes a full pair per entry
 * takes; with a parallel plan every group's state crosses a queue to the
 * leader (once per aggregate in the query) and is parsed there alone.
 */
#define RISK_SERIAL_REVISIONS	16	/* look for a repeated revision among this many */

/* Append n bytes at *p. */
static inline void
risk_put(char **p, const void *src, size_t n)
{
	memcpy(*p, src, n);
	*p += n;
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_serialize);
/* Partial state to bytea, sized exactly (see above). */
Datum
prefactor_risk_agg_serialize(PG_FUNCTION_ARGS)
{
	(void) risk_agg_context(fcinfo, "risk_agg_serialize");
	PG_RETURN_BYTEA_P(risk_agg_serialize_state(PG_GETARG_POINTER(0)));
}

/* The serialized form of a state (also the flat form of type risk_agg_state). */
bytea *
risk_agg_serialize_state(void *opaque)
{
	RiskAggState *state = (RiskAggState *) opaque;
	const Pfid **revisions;
	int32	   *revindex;
	int32		nrevisions = 0;
	Size		size;
	bytea	   *result;
	char	   *p;
	int64		i64;
	int32		i32;
	int			i,
				j;

	/* number the revisions; past a few, repeats are just listed again */
	revisions = palloc(sizeof(Pfid *) * Max(state->nentries, 1));
	revindex = palloc(sizeof(int32) * Max(state->nentries, 1));
	size = VARHDRSZ + 2 * sizeof(int64) + 2 * sizeof(int32);
	for (i = 0; i < state->nentries; i++)
	{
		const RiskPair *key = &state->entries[i].pair->key;

		size += 1 + sizeof(int64);
		if (key->flags & RISK_HAS_TYPE)
			size += sizeof(Pfid);
		revindex[i] = -1;
		if (!(key->flags & RISK_HAS_REVISION))
			continue;
		size += sizeof(int32);
		for (j = 0; j < nrevisions && j < RISK_SERIAL_REVISIONS; j++)
			if (memcmp(revisions[j], &key->revision_id, sizeof(Pfid)) == 0)
				break;
		if (j == nrevisions || j == RISK_SERIAL_REVISIONS)
		{
			j = nrevisions++;
			revisions[j] = &key->revision_id;
			size += sizeof(Pfid);
		}
		revindex[i] = j;
	}

	result = (bytea *) palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	i64 = pg_hton64(state->nspans);
	risk_put(&p, &i64, sizeof(i64));
	i64 = pg_hton64(state->nscored);
	risk_put(&p, &i64, sizeof(i64));
	i32 = pg_hton32(nrevisions);
	risk_put(&p, &i32, sizeof(i32));
	for (j = 0; j < nrevisions; j++)
		risk_put(&p, revisions[j], sizeof(Pfid));
	i32 = pg_hton32(state->nentries);
	risk_put(&p, &i32, sizeof(i32));
	for (i = 0; i < state->nentries; i++)
	{
		const RiskAggEntry *e = &state->entries[i];

		*p++ = (char) e->pair->key.flags;
		if (e->pair->key.flags & RISK_HAS_TYPE)
			risk_put(&p, &e->pair->key.span_type_id, sizeof(Pfid));
		if (e->pair->key.flags & RISK_HAS_REVISION)
		{
			i32 = pg_hton32(revindex[i]);
			risk_put(&p, &i32, sizeof(i32));
		}
		i64 = pg_hton64(e->count);
		risk_put(&p, &i64, sizeof(i64));
	}
	Assert(p == (char *) result + size);
	pfree(revisions);
	pfree(revindex);
	return result;
}

/* A serialized state being read. */
typedef struct RiskReader
{
	const char *p;
	const char *end;
} RiskReader;

/* Take n bytes, or fail on a truncated state. */
static inline const char *
risk_take(RiskReader *r, size_t n)
{
	const char *at = r->p;

	if ((size_t) (r->end - r->p) < n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid risk aggregate state: truncated")));
	r->p += n;
	return at;
}

static inline int64
risk_take_int64(RiskReader *r)
{
	int64		v;

	memcpy(&v, risk_take(r, sizeof(v)), sizeof(v));
	return pg_ntoh64(v);
}

static inline int32
risk_take_int32(RiskReader *r)
{
	int32		v;

	memcpy(&v, risk_take(r, sizeof(v)), sizeof(v));
	return pg_ntoh32(v);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_deserialize);
/*
 * Partial state from bytea.  Like the built-in deserializers it allocates in
 * the current (per-row) context: the state only feeds the combine function,
 * which copies what it keeps, so nothing accumulates in the aggregate context
 * (which would inflate the leader's hash table until it spills).
 */
Datum
prefactor_risk_agg_deserialize(PG_FUNCTION_ARGS)
{
	(void) risk_agg_context(fcinfo, "risk_agg_deserialize");
	PG_RETURN_POINTER(risk_agg_deserialize_state(PG_GETARG_BYTEA_PP(0)));
}

/* A state from its serialized form, in the current context; raises on a malformed one. */
void *
risk_agg_deserialize_state(bytea *bytes)
{
	RiskAggState *state;
	RiskReader	r;
	const char *revisions;
	int32		nrevisions;
	int32		n;
	int			i;

	state = risk_state_new(CurrentMemoryContext);
	r.p = VARDATA_ANY(bytes);
	r.end = r.p + VARSIZE_ANY_EXHDR(bytes);
	state->nspans = risk_take_int64(&r);
	state->nscored = risk_take_int64(&r);
	nrevisions = risk_take_int32(&r);
	if (nrevisions < 0 || nrevisions > (r.end - r.p) / (int) sizeof(Pfid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid risk aggregate state: %d revisions", nrevisions)));
	revisions = risk_take(&r, (size_t) nrevisions * sizeof(Pfid));
	n = risk_take_int32(&r);
	if (n < 0 || n > r.end - r.p)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid risk aggregate state: %d entries", n)));
	for (i = 0; i < n; i++)
	{
		RiskPair	key;
		int64		count;

		memset(&key, 0, sizeof(key));
		key.flags = (uint8) *risk_take(&r, 1);
		if (key.flags & ~(RISK_HAS_TYPE | RISK_HAS_REVISION))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid risk aggregate state: flags %d", key.flags)));
		if (key.flags & RISK_HAS_TYPE)
			memcpy(&key.span_type_id, risk_take(&r, sizeof(Pfid)), sizeof(Pfid));
		if (key.flags & RISK_HAS_REVISION)
		{
			int32		rev = risk_take_int32(&r);

			if (rev < 0 || rev >= nrevisions)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
						 errmsg("invalid risk aggregate state: revision %d of %d", rev, nrevisions)));
			memcpy(&key.revision_id, revisions + (size_t) rev * sizeof(Pfid), sizeof(Pfid));
		}
		count = risk_take_int64(&r);
		risk_state_add(CurrentMemoryContext, state, NULL, risk_pair_intern(&key), count);
	}
	if (r.p != r.end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid risk aggregate state: %d bytes left over", (int) (r.end - r.p))));
	return state;
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

/*
 * Whether the calling role may read the account of a pair's span type. The
 * pairs outlive queries, so the verdict is kept for the role it was given to
 * and only while the access answers it came from hold.
 */
static bool
risk_pair_visible(RiskPairEntry *pair)
{
	Oid			user = GetOuterUserId();

	if (superuser_arg(user))
		return true;
	if (pair->visible_generation != prefactor_access_generation() || pair->visible_to != user)
	{
		pair->visible = risk_type_visible(&pair->key.span_type_id);
		pair->visible_to = user;
		pair->visible_generation = prefactor_access_generation();
	}
	return pair->visible;
}

/* Points of a pair's span type under its revision (NULL if unknown). */
static const RiskTypeInfo *
risk_pair_info(RiskPairEntry *pair)
{
	const RiskTypeInfo *info;

	/* the pair cache outlives the query: whoever asks now must see the account */
	if (!risk_pair_visible(pair))
		return NULL;
	if (pair->info_generation == risk_cache_generation)
		return pair->info;
	info = risk_type_lookup(&pair->key.span_type_id, &pair->key.revision_id);
	/* like the cache, remember only what was found */
	if (info != NULL)
	{
		pair->info = info;
		pair->info_generation = risk_cache_generation;
	}
	return info;
}

/* Name of a pair's span type (NULL for spans without one). */
static const char *
risk_pair_name(RiskPairEntry *pair)
{
	const char *name;
	bool		cached;

	if (!(pair->key.flags & RISK_HAS_TYPE))
		return NULL;
	if (!risk_pair_visible(pair))
		return pfid_text(&pair->key.span_type_id);	/* as for a span type that does not exist */
	if (pair->name_generation == risk_cache_generation)
		return pair->name;
	name = risk_type_name(&pair->key.span_type_id, &cached);
	if (cached)
	{
		pair->name = name;
		pair->name_generation = risk_cache_generation;
	}
	return name;
}

/* Add the points of an entry's spans (count x type points) to a sum. */
static void
risk_sum_entry(RiskSum *sum, const RiskAggEntry *e)
{
	const RiskTypeInfo *info;
	int64		m;

	if (e->pair->key.flags != (RISK_HAS_TYPE | RISK_HAS_REVISION))
		return;
	sum->any = true;
	info = risk_pair_info(e->pair);
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

/*
 * Numerics for small whole numbers and for shares, made once per backend:
 * a breakdown holds a count, a share and points per line, and converting
 * each of them anew costs more than the rest of finalizing a group.  The
 * jsonb conversion copies them, so sharing one copy is safe.
 */
#define RISK_INT_NUMERICS	4096
#define RISK_SHARE_SCALE	10000	/* shares are rounded to ten-thousandths */

static MemoryContext RiskNumericContext = NULL;
static Numeric *RiskIntNumerics = NULL;		/* [v] = v */
static Numeric *RiskShareNumerics = NULL;	/* [v] = v / 10000, zeros trimmed */

/* Create the numeric caches on first use. */
static void
risk_numerics_init(void)
{
	if (RiskNumericContext != NULL)
		return;
	RiskNumericContext = AllocSetContextCreate(TopMemoryContext, "prefactor risk numerics",
											   ALLOCSET_DEFAULT_SIZES);
	RiskIntNumerics = MemoryContextAllocZero(RiskNumericContext,
											 sizeof(Numeric) * RISK_INT_NUMERICS);
	RiskShareNumerics = MemoryContextAllocZero(RiskNumericContext,
											   sizeof(Numeric) * (RISK_SHARE_SCALE + 1));
}

/* A whole number as a numeric (shared, read-only when small). */
static Numeric
risk_int_numeric(int64 v)
{
	MemoryContext oldcxt;

	if (v < 0 || v >= RISK_INT_NUMERICS)
		return int64_to_numeric(v);
	if (RiskIntNumerics[v] == NULL)
	{
		oldcxt = MemoryContextSwitchTo(RiskNumericContext);
		RiskIntNumerics[v] = int64_to_numeric(v);
		MemoryContextSwitchTo(oldcxt);
	}
	return RiskIntNumerics[v];
}

/* count / total rounded to 4 decimals, trailing zeros trimmed (shared, read-only). */
static Numeric
risk_share(int64 count, int64 total)
{
	int64		v = (count * 2 * RISK_SHARE_SCALE + total) / (2 * total);	/* ten-thousandths */
	int64		t = v;
	int			scale = 4;
	MemoryContext oldcxt;

	if (v >= 0 && v <= RISK_SHARE_SCALE && RiskShareNumerics[v] != NULL)
		return RiskShareNumerics[v];
	while (scale > 0 && t % 10 == 0)
	{
		t /= 10;
		scale--;
	}
	if (v < 0 || v > RISK_SHARE_SCALE)
		return int64_div_fast_to_numeric(t, scale);
	oldcxt = MemoryContextSwitchTo(RiskNumericContext);
	RiskShareNumerics[v] = int64_div_fast_to_numeric(t, scale);
	MemoryContextSwitchTo(oldcxt);
	return RiskShareNumerics[v];
}

/* One line of a breakdown: a span type name, its spans and points. */
typedef struct RiskBreakdownLine
{
	const char *name;			/* NULL: spans of undeclared types */
	int64		count;
	RiskSum		sum;
	bool		isint;			/* points are the whole number ipoints */
	int64		ipoints;
	Numeric		points;			/* unless isint: the points; NULL = none */
} RiskBreakdownLine;

/* Compare two names, NULL (undeclared) last. */
static int
risk_name_cmp(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	return strcmp(a, b);
}

/* By name. */
static int
risk_line_name_cmp(const void *a, const void *b)
{
	return risk_name_cmp(((const RiskBreakdownLine *) a)->name, ((const RiskBreakdownLine *) b)->name);
}

/*
 * Most points first, then by name.  Whole numbers compare as int64; when
 * lines mix whole and fractional points every line's points are a numeric.
 */
static int
risk_line_points_cmp(const void *a, const void *b)
{
	const RiskBreakdownLine *x = a;
	const RiskBreakdownLine *y = b;
	bool		xnull = !x->isint && x->points == NULL;
	bool		ynull = !y->isint && y->points == NULL;
	int			c;

	if (xnull || ynull)
		c = xnull - ynull;
	else if (x->isint && y->isint)
		c = (y->ipoints > x->ipoints) - (y->ipoints < x->ipoints);
	else
		c = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(y->points),
											  NumericGetDatum(x->points)));
	return c != 0 ? c : risk_name_cmp(x->name, y->name);
}

/* Sort lines: insertion sort for the usual handful, qsort beyond. */
static void
risk_sort_lines(RiskBreakdownLine *lines, int n, int (*cmp) (const void *, const void *))
{
	int			i,
				j;

	if (n > 16)
	{
		qsort(lines, n, sizeof(RiskBreakdownLine), cmp);
		return;
	}
	for (i = 1; i < n; i++)
	{
		RiskBreakdownLine tmp = lines[i];

		for (j = i; j > 0 && cmp(&lines[j - 1], &tmp) > 0; j--)
			lines[j] = lines[j - 1];
		lines[j] = tmp;
	}
}

/* Set a jsonb string value (key or value). */
static inline void
risk_jsonb_string(JsonbValue *v, const char *s)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = strlen(s);
}

/* Set a jsonb numeric value, or null. */
static inline void
risk_jsonb_numeric(JsonbValue *v, Numeric n)
{
	if (n == NULL)
		v->type = jbvNull;
	else
	{
		v->type = jbvNumeric;
		v->val.numeric = n;
	}
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_breakdown);
/*
 * risk_breakdown final: {total, spans, types: [{span_type, count, share, points}]}.
 *
 * The result is assembled as a JsonbValue tree and converted once.  The
 * converter writes object keys in the order given, and jsonb requires them
 * sorted (shorter first, then bytewise), so the keys below are listed in that
 * order: "spans" < "total" < "types" and "count" < "share" < "points" <
 * "span_type".
 */
Datum
prefactor_risk_agg_breakdown(PG_FUNCTION_ARGS)
{
	RiskAggState *state = PG_ARGISNULL(0) ? NULL : (RiskAggState *) PG_GETARG_POINTER(0);
	RiskBreakdownLine *lines;
	int			nlines = 0;
	RiskSum		total = {false, 0, NULL};
	bool		scored;
	bool		mixed = false;
	JsonbValue	root;
	JsonbPair  *top;
	JsonbValue *elems;
	JsonbPair  *pairs;
	int			i;

	if (state == NULL || state->nspans == 0)
		PG_RETURN_NULL();
	scored = state->nscored > 0;
	risk_numerics_init();

	/* one line per entry, then merged by name */
	lines = palloc(sizeof(RiskBreakdownLine) * Max(state->nentries, 1));
	for (i = 0; i < state->nentries; i++)
	{
		RiskAggEntry *e = &state->entries[i];

		lines[nlines].name = risk_pair_name(e->pair);
		lines[nlines].count = e->count;
		memset(&lines[nlines].sum, 0, sizeof(RiskSum));
		risk_sum_entry(&lines[nlines].sum, e);
		risk_sum_add(&total, &lines[nlines].sum);
		nlines++;
	}
	risk_sort_lines(lines, nlines, risk_line_name_cmp);
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
		RiskBreakdownLine *l = &lines[i];

		l->points = NULL;
		if (!l->sum.any)
		{
			/* nothing scored on this line: 0 if the set is scored, else null */
			l->isint = scored;
			l->ipoints = 0;
		}
		else if (l->sum.n == NULL)
		{
			l->isint = true;
			l->ipoints = l->sum.i;
		}
		else
		{
			l->isint = false;
			l->points = risk_sum_value(&l->sum);
			mixed = true;
		}
	}
	if (mixed)
		for (i = 0; i < nlines; i++)
			if (lines[i].isint)
				lines[i].points = int64_to_numeric(lines[i].ipoints);
	risk_sort_lines(lines, nlines, risk_line_points_cmp);

	top = palloc(sizeof(JsonbPair) * 3);
	elems = palloc(sizeof(JsonbValue) * Max(nlines, 1));
	pairs = palloc(sizeof(JsonbPair) * 4 * Max(nlines, 1));

	risk_jsonb_string(&top[0].key, "spans");
	risk_jsonb_numeric(&top[0].value, risk_int_numeric(state->nspans));
	risk_jsonb_string(&top[1].key, "total");
	if (!scored)
		risk_jsonb_numeric(&top[1].value, NULL);
	else if (total.n == NULL)
		risk_jsonb_numeric(&top[1].value, risk_int_numeric(total.i));
	else
	{
		total.any = true;
		risk_jsonb_numeric(&top[1].value, risk_sum_value(&total));
	}
	risk_jsonb_string(&top[2].key, "types");
	top[2].value.type = jbvArray;
	top[2].value.val.array.nElems = nlines;
	top[2].value.val.array.elems = elems;
	top[2].value.val.array.rawScalar = false;
	for (i = 0; i < 3; i++)
		top[i].order = i;

	for (i = 0; i < nlines; i++)
	{
		JsonbPair  *p = &pairs[4 * i];
		int			k;

		risk_jsonb_string(&p[0].key, "count");
		risk_jsonb_numeric(&p[0].value, risk_int_numeric(lines[i].count));
		risk_jsonb_string(&p[1].key, "share");
		risk_jsonb_numeric(&p[1].value, risk_share(lines[i].count, state->nspans));
		risk_jsonb_string(&p[2].key, "points");
		risk_jsonb_numeric(&p[2].value,
						   lines[i].isint ? risk_int_numeric(lines[i].ipoints) : lines[i].points);
		risk_jsonb_string(&p[3].key, "span_type");
		if (lines[i].name)
			risk_jsonb_string(&p[3].value, lines[i].name);
		else
			p[3].value.type = jbvNull;
		for (k = 0; k < 4; k++)
			p[k].order = k;
		elems[i].type = jbvObject;
		elems[i].val.object.nPairs = 4;
		elems[i].val.object.pairs = p;
	}

	root.type = jbvObject;
	root.val.object.nPairs = 3;
	root.val.object.pairs = top;
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&root));
}
