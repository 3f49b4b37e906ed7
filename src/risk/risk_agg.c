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
 * States merge, and have a flat form, for parallel and distributed
 * aggregation (risk_agg_state.c makes them a type of their own).
 *
 * A row costs a few word compares: the row's pfids are compared in place
 * with the group's few entries (no key is built, nothing is hashed) and a
 * pair is interned only when a group meets it first.  With a parallel plan
 * the leader merges every group's flat states and finalizes it alone, after
 * the workers are done (once per aggregate in the query), so the flat form
 * is compact (varints, revisions listed once, totals derived) and is merged
 * as it is read, without building a state from it first; the interned pair
 * remembers its cache lookups, and the breakdown's jsonb is assembled as one
 * value tree (keys already in jsonb order) rather than pushed item by item.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "common/int.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "access/account_access.h"
#include "risk/risk.h"
#include "risk/risk_agg.h"

#define RISK_HAS_TYPE		0x01
#define RISK_HAS_REVISION	0x02
#define RISK_INDEX_FROM		8	/* build a hash index above this many entries */

#define RISK_INLINE_ENTRIES	5	/* header + 5 entries fill a 128-byte chunk */
#define RISK_MAX_PAIRS		(1 << 20)
#define RISK_PAIR_CACHE		256 /* interned pairs remembered by key hash */

StaticAssertDecl(PFID_LEN == 20, "risk_pfid_eq compares a pfid as 8 + 8 + 4 bytes");

/* A (span type, revision) pair: the key spans are counted by. */
typedef struct RiskPair
{
	Pfid		span_type_id;	/* zeroes unless RISK_HAS_TYPE */
	Pfid		revision_id;	/* zeroes unless RISK_HAS_REVISION */
	uint8		flags;
} RiskPair;

/*
 * A pair as it is read from a row or a flat state, without copying: the
 * pfids are NULL when absent (and then their flag is unset).
 */
typedef struct RiskKey
{
	uint8		flags;
	const Pfid *type;
	const Pfid *revision;
} RiskKey;

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
	uint32		hash;			/* risk_key_hash of the key */
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
	int64		nspans;			/* every span seen: the sum of the counts */
	int64		nscored;		/* spans of runs with a profile revision */
	int32		nentries;
	int32		maxentries;
	int32		last;			/* entry hit by the previous lookup (with an index) */
	int32		indexsize;		/* 0 or the size of index */
	RiskAggEntry *entries;		/* inline_entries or a separate array */
	int		   *index;			/* open addressing over entries, -1 = empty */
	RiskAggEntry inline_entries[FLEXIBLE_ARRAY_MEMBER];
} RiskAggState;

#define RISK_STATE_SIZE	(offsetof(RiskAggState, inline_entries) + RISK_INLINE_ENTRIES * sizeof(RiskAggEntry))

static HTAB *RiskPairs = NULL;
static RiskPairEntry *RiskPairCache[RISK_PAIR_CACHE];

/* Whether two pfids are equal: the random tail first, where they differ soonest. */
static inline bool
risk_pfid_eq(const Pfid *a, const Pfid *b)
{
	uint64		x,
				y;
	uint32		u,
				v;

	memcpy(&x, a->data + 12, 8);
	memcpy(&y, b->data + 12, 8);
	if (x != y)
		return false;
	memcpy(&x, a->data, 8);
	memcpy(&y, b->data, 8);
	if (x != y)
		return false;
	memcpy(&u, a->data + 8, 4);
	memcpy(&v, b->data + 8, 4);
	return u == v;
}

/* Whether an interned pair is this key: the span type first, it differs soonest in a group. */
static inline bool
risk_pair_is(const RiskPairEntry *pair, const RiskKey *k)
{
	return pair->key.flags == k->flags &&
		(k->type == NULL || risk_pfid_eq(&pair->key.span_type_id, k->type)) &&
		(k->revision == NULL || risk_pfid_eq(&pair->key.revision_id, k->revision));
}

/* The key of an interned pair. */
static inline RiskKey
risk_pair_key(const RiskPairEntry *pair)
{
	RiskKey		k;

	k.flags = pair->key.flags;
	k.type = (k.flags & RISK_HAS_TYPE) ? &pair->key.span_type_id : NULL;
	k.revision = (k.flags & RISK_HAS_REVISION) ? &pair->key.revision_id : NULL;
	return k;
}

/* Hash of a key, from the random tails of its pfids (80 random bits each). */
static inline uint32
risk_key_hash(const RiskKey *k)
{
	uint64		h = k->flags;
	uint64		w;

	if (k->type)
	{
		memcpy(&w, k->type->data + 12, 8);
		h ^= w;
	}
	if (k->revision)
	{
		memcpy(&w, k->revision->data + 12, 8);
		h ^= w * UINT64CONST(0x9e3779b97f4a7c15);
	}
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

/* The interned copy of a pair (backend lifetime, under TopMemoryContext). */
static RiskPairEntry *
risk_pair_intern(const RiskKey *k)
{
	uint32		hash = risk_key_hash(k);
	RiskPairEntry **cached = &RiskPairCache[hash % RISK_PAIR_CACHE];
	RiskPair	key;
	bool		found;
	RiskPairEntry *pair;

	if (*cached != NULL && risk_pair_is(*cached, k))
		return *cached;
	memset(&key, 0, sizeof(key));
	key.flags = k->flags;
	if (k->type)
		memcpy(&key.span_type_id, k->type, sizeof(Pfid));
	if (k->revision)
		memcpy(&key.revision_id, k->revision, sizeof(Pfid));
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
		hash_search(RiskPairs, &key, HASH_FIND, NULL) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct (span type, risk profile revision) pairs in one backend: %d",
						RISK_MAX_PAIRS),
				 errhint("Reconnect, or aggregate fewer accounts at once.")));
	pair = (RiskPairEntry *) hash_search(RiskPairs, &key, HASH_ENTER, &found);
	if (!found)
	{
		pair->hash = hash;
		pair->info_generation = 0;
		pair->name_generation = 0;
		pair->info = NULL;
		pair->name = NULL;
		pair->visible_to = InvalidOid;
		pair->visible_generation = 0;
		pair->visible = false;
	}
	*cached = pair;				/* hash entries never move nor go away */
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
		uint32		slot = state->entries[i].pair->hash & (size - 1);

		while (state->index[slot] >= 0)
			slot = (slot + 1) & (size - 1);
		state->index[slot] = i;
	}
}

/*
 * The entry counting a key, or NULL.  A group has a handful of entries,
 * scanned in order; past RISK_INDEX_FROM a hash index is used.
 */
static pg_attribute_always_inline RiskAggEntry *
risk_state_find(RiskAggState *state, const RiskKey *k)
{
	uint32		slot;
	int			i;

	if (likely(state->index == NULL))
	{
		RiskAggEntry *e = state->entries;
		RiskAggEntry *end = e + state->nentries;
		uint64		tail = 0;

		/* an entry's span type tail (zeroes for none) rules most entries out in one compare */
		if (k->type != NULL)
			memcpy(&tail, k->type->data + 12, 8);
		for (; e < end; e++)
		{
			uint64		t;

			memcpy(&t, e->pair->key.span_type_id.data + 12, 8);
			if (t == tail && risk_pair_is(e->pair, k))
				return e;
		}
		return NULL;
	}
	if (state->last >= 0 && risk_pair_is(state->entries[state->last].pair, k))
		return &state->entries[state->last];
	slot = risk_key_hash(k) & (state->indexsize - 1);
	while ((i = state->index[slot]) >= 0)
	{
		if (risk_pair_is(state->entries[i].pair, k))
		{
			state->last = i;
			return &state->entries[i];
		}
		slot = (slot + 1) & (state->indexsize - 1);
	}
	return NULL;
}

/* A new entry: count spans under an interned pair the state does not count yet. */
static void
risk_state_append(MemoryContext aggcxt, RiskAggState *state, RiskPairEntry *pair, int64 count)
{
	int			i;

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
	state->entries[i].pair = pair;
	state->entries[i].count = count;
	state->last = i;
	if (state->index && state->nentries * 2 <= state->indexsize)
	{
		uint32		slot = pair->hash & (state->indexsize - 1);

		while (state->index[slot] >= 0)
			slot = (slot + 1) & (state->indexsize - 1);
		state->index[slot] = i;
	}
	else if (state->nentries > RISK_INDEX_FROM)
		risk_index_build(aggcxt, state);
}

/* A new entry for a key, interned (kept out of line: groups meet a pair once). */
static pg_noinline void
risk_state_add_new(MemoryContext aggcxt, RiskAggState *state, const RiskKey *k, int64 count)
{
	risk_state_append(aggcxt, state, risk_pair_intern(k), count);
}

/* Add count spans under a key (its totals are the caller's). */
static pg_attribute_always_inline void
risk_state_add(MemoryContext aggcxt, RiskAggState *state, const RiskKey *k, int64 count)
{
	RiskAggEntry *e = risk_state_find(state, k);

	if (likely(e != NULL))
		e->count += count;
	else
		risk_state_add_new(aggcxt, state, k, count);
}

/* Count one span by (span_type_id, revision), arguments 1 and 2, into a state. */
static pg_attribute_always_inline void
risk_count_row(MemoryContext cxt, RiskAggState *state, FunctionCallInfo fcinfo)
{
	RiskKey		k;

	state->nspans++;
	k.flags = 0;
	k.type = NULL;
	k.revision = NULL;
	if (!PG_ARGISNULL(1))
	{
		k.flags |= RISK_HAS_TYPE;
		k.type = PG_GETARG_PFID_P(1);
	}
	if (!PG_ARGISNULL(2))
	{
		state->nscored++;
		k.flags |= RISK_HAS_REVISION;
		k.revision = PG_GETARG_PFID_P(2);
	}
	risk_state_add(cxt, state, &k, 1);
}

/*
 * Counts one span (the transition's arguments 1 and 2) into a state, a new
 * one in aggcxt for NULL; returns the state.
 */
void *
risk_agg_count(MemoryContext aggcxt, void *arg, FunctionCallInfo fcinfo)
{
	RiskAggState *state = arg != NULL ? (RiskAggState *) arg : risk_state_new(aggcxt);

	risk_count_row(aggcxt, state, fcinfo);
	return state;
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_trans);
/*
 * Transition of both aggregates: count one span by (span_type_id, revision).
 * After a group's first row the state is our read-write expanded object,
 * which only an aggregate holds (its own result), so the span is counted in
 * place (entries growing in the object's context, under the aggregate's);
 * anything else takes risk_state_trans_general.
 */
Datum
prefactor_risk_agg_state_trans(PG_FUNCTION_ARGS)
{
	if (!PG_ARGISNULL(0))
	{
		bool		rw;
		RiskStateObject *obj = risk_state_object(PG_GETARG_DATUM(0), &rw);

		if (obj != NULL && rw)
		{
			risk_count_row(obj->hdr.eoh_context, (RiskAggState *) obj->state, fcinfo);
			obj->flat = NULL;
			return PG_GETARG_DATUM(0);
		}
	}
	return risk_state_trans_general(fcinfo);
}

/* Add two totals of spans. */
static inline int64
risk_add_spans(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("risk aggregate span count out of range")));
	return r;
}

/*
 * Merge the state from into into (a new state in aggcxt for NULL); returns
 * into.  from is left as it was.
 */
void *
risk_agg_merge(MemoryContext aggcxt, void *into, const void *from)
{
	RiskAggState *s1 = (RiskAggState *) into;
	const RiskAggState *s2 = (const RiskAggState *) from;
	int			i;

	if (s1 == NULL)
		s1 = risk_state_new(aggcxt);
	if (s2 == NULL)
		return s1;
	s1->nspans = risk_add_spans(s1->nspans, s2->nspans);
	s1->nscored = risk_add_spans(s1->nscored, s2->nscored);
	for (i = 0; i < s2->nentries; i++)
	{
		RiskKey		k = risk_pair_key(s2->entries[i].pair);
		RiskAggEntry *e = risk_state_find(s1, &k);

		if (e != NULL)
			e->count += s2->entries[i].count;
		else
			risk_state_append(aggcxt, s1, s2->entries[i].pair, s2->entries[i].count);
	}
	return s1;
}

/*
 * Flat form (the form of type risk_agg_state on disk, between processes and
 * between nodes), unsigned LEB128 varints:
 *
 *	varint nrevisions, nrevisions x pfid (the revisions entries refer to),
 *	varint nentries, each: uint8 flags, pfid span type (if RISK_HAS_TYPE),
 *		varint index into the revisions (if RISK_HAS_REVISION), varint count (> 0).
 *
 * The totals are the sums of the counts (all, and those with a revision).
 * A group's spans nearly always share one revision, so an entry takes 23
 * bytes (the 49-byte full pair and count); with a parallel plan every group's
 * state crosses a queue to the leader once per aggregate in the query and
 * is merged there alone.
 */
#define RISK_SERIAL_REVISIONS	16	/* look for a repeated revision among this many */
#define RISK_VARINT_MAX			10

static inline int
risk_varint_len(uint64 v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline void
risk_put_varint(char **p, uint64 v)
{
	while (v >= 0x80)
	{
		*(*p)++ = (char) (v | 0x80);
		v >>= 7;
	}
	*(*p)++ = (char) v;
}

/* The index of a revision in the flat form's list, adding it if new. */
static inline int32
risk_serial_revision(const Pfid **revisions, int32 *nrevisions, const Pfid *revision)
{
	int32		j;

	for (j = 0; j < *nrevisions && j < RISK_SERIAL_REVISIONS; j++)
		if (risk_pfid_eq(revisions[j], revision))
			return j;
	/* past a few, repeats are just listed again */
	revisions[*nrevisions] = revision;
	return (*nrevisions)++;
}

/* The flat form of a state, sized exactly, in the current context. */
bytea *
risk_agg_serialize_state(const void *opaque)
{
	const RiskAggState *state = (const RiskAggState *) opaque;
	const Pfid *revisions_local[RISK_INLINE_ENTRIES * 2];
	int32		revindex_local[RISK_INLINE_ENTRIES * 2];
	const Pfid **revisions = revisions_local;
	int32	   *revindex = revindex_local;
	int32		nrevisions = 0;
	Size		size;
	bytea	   *result;
	char	   *p;
	int			i;

	if (state->nentries > lengthof(revisions_local))
	{
		revisions = palloc(sizeof(Pfid *) * state->nentries);
		revindex = palloc(sizeof(int32) * state->nentries);
	}
	size = 0;
	for (i = 0; i < state->nentries; i++)
	{
		const RiskPair *key = &state->entries[i].pair->key;

		size += 1 + risk_varint_len(state->entries[i].count);
		if (key->flags & RISK_HAS_TYPE)
			size += sizeof(Pfid);
		if (key->flags & RISK_HAS_REVISION)
		{
			revindex[i] = risk_serial_revision(revisions, &nrevisions, &key->revision_id);
			size += risk_varint_len(revindex[i]);
		}
	}
	size += VARHDRSZ + risk_varint_len(nrevisions) + nrevisions * sizeof(Pfid) +
		risk_varint_len(state->nentries);

	result = (bytea *) palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	risk_put_varint(&p, nrevisions);
	for (i = 0; i < nrevisions; i++)
	{
		memcpy(p, revisions[i], sizeof(Pfid));
		p += sizeof(Pfid);
	}
	risk_put_varint(&p, state->nentries);
	for (i = 0; i < state->nentries; i++)
	{
		const RiskAggEntry *e = &state->entries[i];

		*p++ = (char) e->pair->key.flags;
		if (e->pair->key.flags & RISK_HAS_TYPE)
		{
			memcpy(p, &e->pair->key.span_type_id, sizeof(Pfid));
			p += sizeof(Pfid);
		}
		if (e->pair->key.flags & RISK_HAS_REVISION)
			risk_put_varint(&p, revindex[i]);
		risk_put_varint(&p, e->count);
	}
	Assert(p == (char *) result + size);
	if (revisions != revisions_local)
	{
		pfree(revisions);
		pfree(revindex);
	}
	return result;
}

/* A flat state being read. */
typedef struct RiskReader
{
	const char *p;
	const char *end;
} RiskReader;

static void
risk_flat_invalid(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid risk aggregate state: %s", what)));
}

/* Take n bytes, or fail on a truncated state. */
static inline const char *
risk_take(RiskReader *r, size_t n)
{
	const char *at = r->p;

	if ((size_t) (r->end - r->p) < n)
		risk_flat_invalid("truncated");
	r->p += n;
	return at;
}

/* A varint up to max. */
static inline uint64
risk_take_varint(RiskReader *r, uint64 max)
{
	uint64		v = 0;
	int			shift = 0;

	for (;;)
	{
		uint8		b = (uint8) *risk_take(r, 1);

		if (shift == 63 && b > 1)
			risk_flat_invalid("number out of range");
		v |= (uint64) (b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
		if (shift > 63)
			risk_flat_invalid("number out of range");
	}
	if (v > max)
		risk_flat_invalid("number out of range");
	return v;
}

/*
 * Read a flat state, checking it (raises invalid_binary_representation on a
 * malformed one), and merge it into a state (a new one in aggcxt for NULL;
 * with aggcxt NULL it is only checked and NULL is returned).  Its entries
 * are merged as they are read, so a state is not built from it first.
 */
void *
risk_agg_merge_flat(MemoryContext aggcxt, void *into, const bytea *flat)
{
	RiskAggState *state = (RiskAggState *) into;
	RiskReader	r;
	const char *revisions;
	uint64		nrevisions;
	uint64		n;
	int64		nspans = 0;
	int64		nscored = 0;

	r.p = VARDATA_ANY(flat);
	r.end = r.p + VARSIZE_ANY_EXHDR(flat);
	nrevisions = risk_take_varint(&r, (r.end - r.p) / sizeof(Pfid));
	revisions = risk_take(&r, nrevisions * sizeof(Pfid));
	n = risk_take_varint(&r, (r.end - r.p) / 2);	/* an entry takes 2 bytes or more */
	if (aggcxt != NULL && state == NULL)
		state = risk_state_new(aggcxt);
	for (uint64 i = 0; i < n; i++)
	{
		RiskKey		k;
		int64		count;

		k.flags = (uint8) *risk_take(&r, 1);
		if (k.flags & ~(RISK_HAS_TYPE | RISK_HAS_REVISION))
			risk_flat_invalid("unknown flags");
		k.type = (k.flags & RISK_HAS_TYPE) ? (const Pfid *) risk_take(&r, sizeof(Pfid)) : NULL;
		k.revision = NULL;
		if (k.flags & RISK_HAS_REVISION)
		{
			if (nrevisions == 0)
				risk_flat_invalid("revision out of range");
			k.revision = (const Pfid *) (revisions +
										 risk_take_varint(&r, nrevisions - 1) * sizeof(Pfid));
		}
		count = (int64) risk_take_varint(&r, PG_INT64_MAX);
		if (count == 0)
			risk_flat_invalid("empty entry");
		nspans = risk_add_spans(nspans, count);
		if (k.revision)
			nscored = risk_add_spans(nscored, count);
		if (state != NULL)
			risk_state_add(aggcxt, state, &k, count);
	}
	if (r.p != r.end)
		risk_flat_invalid("bytes left over");
	if (state != NULL)
	{
		state->nspans = risk_add_spans(state->nspans, nspans);
		state->nscored = risk_add_spans(state->nscored, nscored);
	}
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
