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
typedef struct RiskPairEntry RiskPairEntry;

struct RiskPairEntry
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
};


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
static pg_attribute_always_inline bool
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

/* An empty state. */
void
risk_agg_init(RiskAggState *state)
{
	state->nentries = 0;
	state->maxentries = RISK_INLINE_ENTRIES;
	state->last = -1;
	state->indexsize = 0;
	state->entries = state->inline_entries;
	state->index = NULL;
}

/* A new empty state (not in an expanded object). */
RiskAggState *
risk_agg_new(MemoryContext cxt)
{
	RiskAggState *state = MemoryContextAlloc(cxt, sizeof(RiskAggState));

	risk_agg_init(state);
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
 * The entry counting a key, or NULL, in a state without an index (a
 * handful of entries, scanned in order): an entry's span type tail (zeroes
 * for none) rules most entries out in one compare.
 */
static pg_attribute_always_inline RiskAggEntry *
risk_state_scan(RiskAggState *state, const RiskKey *k)
{
	RiskAggEntry *e = state->entries;
	RiskAggEntry *end = e + state->nentries;
	uint64		tail = 0;

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

/* The entry counting a key, or NULL; past RISK_INDEX_FROM entries through the hash index. */
static pg_attribute_always_inline RiskAggEntry *
risk_state_find(RiskAggState *state, const RiskKey *k)
{
	uint32		slot;
	int			i;

	if (likely(state->nentries <= RISK_INDEX_FROM))
		return risk_state_scan(state, k);
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

/* Add two counts of spans. */
static inline int64
risk_add_spans(int64 a, int64 b)
{
	int64		r;

	if (unlikely(pg_add_s64_overflow(a, b, &r)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("risk aggregate span count out of range")));
	return r;
}

/*
 * A new entry for a key, interned (out of line, so that counting a row needs
 * no key in memory: a group meets a pair once).
 */
static pg_noinline void
risk_state_add_new(MemoryContext aggcxt, RiskAggState *state,
				   uint8 flags, const Pfid *type, const Pfid *revision, int64 count)
{
	RiskKey		k;

	k.flags = flags;
	k.type = type;
	k.revision = revision;
	risk_state_append(aggcxt, state, risk_pair_intern(&k), count);
}

/* Add count spans under a key. */
static pg_attribute_always_inline void
risk_state_add(MemoryContext aggcxt, RiskAggState *state,
			   uint8 flags, const Pfid *type, const Pfid *revision, int64 count)
{
	RiskKey		k;
	RiskAggEntry *e;

	k.flags = flags;
	k.type = type;
	k.revision = revision;
	e = risk_state_find(state, &k);
	if (likely(e != NULL))
		e->count = risk_add_spans(e->count, count);
	else
		risk_state_add_new(aggcxt, state, flags, type, revision, count);
}

/* Count one span by (span_type_id, revision), arguments 1 and 2, into a state. */
static pg_attribute_always_inline void
risk_count_row(MemoryContext cxt, RiskAggState *state, FunctionCallInfo fcinfo)
{
	const Pfid *type = PG_ARGISNULL(1) ? NULL : PG_GETARG_PFID_P(1);
	const Pfid *revision = PG_ARGISNULL(2) ? NULL : PG_GETARG_PFID_P(2);

	risk_state_add(cxt, state, (type ? RISK_HAS_TYPE : 0) | (revision ? RISK_HAS_REVISION : 0),
				   type, revision, 1);
}

/* Counts one span (the transition's arguments 1 and 2) into a state, growing in cxt. */
void
risk_agg_count(MemoryContext cxt, RiskAggState *state, FunctionCallInfo fcinfo)
{
	risk_count_row(cxt, state, fcinfo);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_trans);
/*
 * Transition of both aggregates: count one span by (span_type_id, revision).
 * After a group's first row the state is our read-write expanded object,
 * which only an aggregate holds (its own result), so the span is counted in
 * place when the group already counts its pair; anything else (the group's
 * first row or first span of a pair, a state with an index, a flat state)
 * takes risk_state_trans_general.  Nothing here calls out, so counting a row
 * saves and restores no registers.
 */
Datum
prefactor_risk_agg_state_trans(PG_FUNCTION_ARGS)
{
	if (likely(!PG_ARGISNULL(0)))
	{
		bool		rw;
		RiskStateObject *obj = risk_state_object(PG_GETARG_DATUM(0), &rw);

		if (likely(obj != NULL && rw))
		{
			RiskKey		k;
			RiskAggEntry *e;

			k.type = PG_ARGISNULL(1) ? NULL : PG_GETARG_PFID_P(1);
			k.revision = PG_ARGISNULL(2) ? NULL : PG_GETARG_PFID_P(2);
			k.flags = (k.type ? RISK_HAS_TYPE : 0) | (k.revision ? RISK_HAS_REVISION : 0);
			e = obj->state.nentries <= RISK_INDEX_FROM ? risk_state_scan(&obj->state, &k) : NULL;
			if (likely(e != NULL))
			{
				e->count++;		/* one row: cannot reach 2^63 */
				return PG_GETARG_DATUM(0);
			}
		}
	}
	return risk_state_trans_general(fcinfo);
}

/* Merge the state s2 into s1 (growing in aggcxt); s2 is left as it was. */
void
risk_agg_merge(MemoryContext aggcxt, RiskAggState *s1, const RiskAggState *s2)
{
	int			i;

	for (i = 0; i < s2->nentries; i++)
	{
		RiskKey		k = risk_pair_key(s2->entries[i].pair);
		RiskAggEntry *e = risk_state_find(s1, &k);

		if (e != NULL)
			e->count = risk_add_spans(e->count, s2->entries[i].count);
		else
			risk_state_append(aggcxt, s1, s2->entries[i].pair, s2->entries[i].count);
	}
}

/* How many spans a state counts, and how many of them have a revision. */
static void
risk_state_totals(const RiskAggState *state, int64 *nspans, int64 *nscored)
{
	*nspans = 0;
	*nscored = 0;
	for (int i = 0; i < state->nentries; i++)
	{
		*nspans = risk_add_spans(*nspans, state->entries[i].count);
		if (state->entries[i].pair->key.flags & RISK_HAS_REVISION)
			*nscored = risk_add_spans(*nscored, state->entries[i].count);
	}
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

/* Write the flat form of a state at out, unless NULL; returns its size. */
static Size
risk_agg_write_flat(const RiskAggState *state, char *out)
{
	const Pfid *revisions_local[RISK_INLINE_ENTRIES * 2];
	int32		revindex_local[RISK_INLINE_ENTRIES * 2];
	const Pfid **revisions = revisions_local;
	int32	   *revindex = revindex_local;
	int32		nrevisions = 0;
	Size		size;
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

	if (out == NULL)
		goto done;
	SET_VARSIZE(out, size);
	p = VARDATA(out);
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
	Assert(p == out + size);
done:
	if (revisions != revisions_local)
	{
		pfree(revisions);
		pfree(revindex);
	}
	return size;
}

/* The size of a state's flat form. */
Size
risk_agg_flat_size(const RiskAggState *state)
{
	return risk_agg_write_flat(state, NULL);
}

/* Write a state's flat form at out (risk_agg_flat_size bytes). */
void
risk_agg_flatten(const RiskAggState *state, void *out)
{
	(void) risk_agg_write_flat(state, out);
}

/* The flat form of a state, in the current context. */
bytea *
risk_agg_serialize_state(const RiskAggState *state)
{
	bytea	   *result = palloc(risk_agg_flat_size(state));

	risk_agg_flatten(state, result);
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
 * malformed one), and merge it into a state growing in aggcxt (with state
 * NULL it is only checked).  Its entries are merged as they are read, so a
 * state is not built from it first.
 */
void
risk_agg_merge_flat(MemoryContext aggcxt, RiskAggState *state, const bytea *flat)
{
	RiskReader	r;
	const char *revisions;
	uint64		nrevisions;
	uint64		n;

	r.p = VARDATA_ANY(flat);
	r.end = r.p + VARSIZE_ANY_EXHDR(flat);
	nrevisions = risk_take_varint(&r, (r.end - r.p) / sizeof(Pfid));
	revisions = risk_take(&r, nrevisions * sizeof(Pfid));
	n = risk_take_varint(&r, (r.end - r.p) / 2);	/* an entry takes 2 bytes or more */
	for (uint64 i = 0; i < n; i++)
	{
		uint8		flags = (uint8) *risk_take(&r, 1);
		const Pfid *type = NULL;
		const Pfid *revision = NULL;
		int64		count;

		if (flags & ~(RISK_HAS_TYPE | RISK_HAS_REVISION))
			risk_flat_invalid("unknown flags");
		if (flags & RISK_HAS_TYPE)
			type = (const Pfid *) risk_take(&r, sizeof(Pfid));
		if (flags & RISK_HAS_REVISION)
		{
			if (nrevisions == 0)
				risk_flat_invalid("revision out of range");
			revision = (const Pfid *) (revisions + risk_take_varint(&r, nrevisions - 1) * sizeof(Pfid));
		}
		count = (int64) risk_take_varint(&r, PG_INT64_MAX);
		if (count == 0)
			risk_flat_invalid("empty entry");
		if (state != NULL)
			risk_state_add(aggcxt, state, flags, type, revision, count);
	}
	if (r.p != r.end)
		risk_flat_invalid("bytes left over");
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
 * Who is asking, looked up once per final call: the pairs' verdicts below
 * are kept per role, and a group asks for every pair twice.
 */
typedef struct RiskViewer
{
	Oid			user;
	bool		superuser;		/* asked anew at every call: it is not kept */
	uint64		generation;		/* of the access answers */
} RiskViewer;

static RiskViewer
risk_viewer(void)
{
	RiskViewer	v;

	v.user = GetOuterUserId();
	v.superuser = superuser_arg(v.user);
	v.generation = prefactor_access_generation();
	return v;
}

/*
 * Whether the calling role may read the account of a pair's span type. The
 * pairs outlive queries, so the verdict is kept for the role it was given to
 * and only while the access answers it came from hold.
 */
static bool
risk_pair_visible(RiskPairEntry *pair, const RiskViewer *viewer)
{
	if (viewer->superuser)
		return true;
	if (pair->visible_generation != viewer->generation || pair->visible_to != viewer->user)
	{
		pair->visible = risk_type_visible(&pair->key.span_type_id);
		pair->visible_to = viewer->user;
		pair->visible_generation = prefactor_access_generation();
	}
	return pair->visible;
}

/* Points of a pair's span type under its revision (NULL if unknown). */
static const RiskTypeInfo *
risk_pair_info(RiskPairEntry *pair, const RiskViewer *viewer)
{
	const RiskTypeInfo *info;

	/* the pair cache outlives the query: whoever asks now must see the account */
	if (!risk_pair_visible(pair, viewer))
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
risk_pair_name(RiskPairEntry *pair, const RiskViewer *viewer)
{
	const char *name;
	bool		cached;

	if (!(pair->key.flags & RISK_HAS_TYPE))
		return NULL;
	if (!risk_pair_visible(pair, viewer))
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
risk_sum_entry(RiskSum *sum, const RiskAggEntry *e, const RiskViewer *viewer)
{
	const RiskTypeInfo *info;
	int64		m;

	if (e->pair->key.flags != (RISK_HAS_TYPE | RISK_HAS_REVISION))
		return;
	sum->any = true;
	info = risk_pair_info(e->pair, viewer);
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
	RiskViewer	viewer;
	int64		nspans;
	int64		nscored;
	int			i;

	if (state == NULL)
		PG_RETURN_NULL();
	risk_state_totals(state, &nspans, &nscored);
	if (nscored == 0)
		PG_RETURN_NULL();
	viewer = risk_viewer();
	for (i = 0; i < state->nentries; i++)
		risk_sum_entry(&total, &state->entries[i], &viewer);
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
	int			namelen;
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

/* By name. */
static int
risk_line_name_cmp(const void *a, const void *b)
{
	return risk_name_cmp(((const RiskBreakdownLine *) a)->name, ((const RiskBreakdownLine *) b)->name);
}

#define RISK_FEW_LINES 16		/* insertion sort and scans up to this many lines */

/* Sort lines: insertion sort for the usual handful, qsort beyond. */
static void
risk_sort_lines(RiskBreakdownLine *lines, int n, int (*cmp) (const void *, const void *))
{
	int			i,
				j;

	if (n > RISK_FEW_LINES)
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

/* Whether two lines have one name (or are both undeclared). */
static inline bool
risk_same_name(const RiskBreakdownLine *a, const RiskBreakdownLine *b)
{
	return a->name == b->name ||
		(a->name != NULL && b->name != NULL && a->namelen == b->namelen &&
		 memcmp(a->name, b->name, a->namelen) == 0);
}

/*
 * Merge the lines of one name (a span type's revisions) into one; returns
 * how many are left, in no particular order.  A group has a handful of lines
 * and the names of one span type are one cached string, so each line is
 * looked for among the merged ones; past RISK_FEW_LINES they are sorted by
 * name first.
 */
static int
risk_merge_lines(RiskBreakdownLine *lines, int n)
{
	int			out = 0;
	bool		sorted = n > RISK_FEW_LINES;

	if (sorted)
		risk_sort_lines(lines, n, risk_line_name_cmp);
	for (int i = 0; i < n; i++)
	{
		int			at = -1;

		if (sorted)
			at = out > 0 && risk_same_name(&lines[out - 1], &lines[i]) ? out - 1 : -1;
		else
			for (int j = 0; j < out && at < 0; j++)
				if (risk_same_name(&lines[j], &lines[i]))
					at = j;
		if (at < 0)
			lines[out++] = lines[i];
		else
		{
			lines[at].count += lines[i].count;	/* <= the group's spans, checked */
			risk_sum_add(&lines[at].sum, &lines[i].sum);
		}
	}
	return out;
}

/*
 * The breakdown is written directly in jsonb's binary form (the on-disk
 * format, documented in utils/jsonb.h), as JsonbValueToJsonb would write it
 * for the same value: converting a value tree costs several times what the
 * rest of finalizing a group costs, and a parallel plan's leader finalizes
 * every group alone.  A container is aligned to 4 bytes and starts with its
 * header (count and kind) and one JEntry per child (an object's keys first,
 * then its values), each the child's type and the length of its data, or
 * every JB_OFFSET_STRIDE'th the end offset of its data; a numeric is aligned
 * to 4 bytes, the padding counted in its length.  Object keys are sorted
 * shorter first, then bytewise: "spans" < "total" < "types" and "count" <
 * "share" < "points" < "span_type".
 */
typedef struct RiskJsonbWriter
{
	char	   *data;
	int			len;
} RiskJsonbWriter;

/* A container being written: where its JEntries go and its data so far. */
typedef struct RiskJsonbContainer
{
	int			start;			/* where it starts, before its padding */
	int			jentries;		/* offset of its JEntry array */
	int			nchildren;		/* an object's pairs or an array's elements */
	uint32		datalen;		/* its children's data so far */
} RiskJsonbContainer;

static inline void
risk_jsonb_pad(RiskJsonbWriter *w)
{
	while (w->len % 4 != 0)
		w->data[w->len++] = '\0';
}

/* Start a container of n pairs (JB_FOBJECT) or elements (JB_FARRAY). */
static inline void
risk_jsonb_open(RiskJsonbWriter *w, RiskJsonbContainer *c, uint32 kind, int n)
{
	uint32		header = (uint32) n | kind;

	c->start = w->len;
	risk_jsonb_pad(w);
	memcpy(w->data + w->len, &header, sizeof(header));
	w->len += sizeof(header);
	c->jentries = w->len;
	c->nchildren = n;
	c->datalen = 0;
	w->len += sizeof(JEntry) * (kind == JB_FOBJECT ? 2 * n : n);
}

/*
 * Record the JEntry of child slot i (an object's key i is slot i, its value
 * i is slot n + i) whose data was just written.
 */
static inline void
risk_jsonb_child(RiskJsonbWriter *w, RiskJsonbContainer *c, int slot, bool stride, JEntry e)
{
	c->datalen += JBE_OFFLENFLD(e);
	if (stride)
		e = (e & JENTRY_TYPEMASK) | c->datalen | JENTRY_HAS_OFF;
	memcpy(w->data + c->jentries + slot * sizeof(JEntry), &e, sizeof(JEntry));
}

/* The JEntry of a finished container, for its parent. */
static inline JEntry
risk_jsonb_close(RiskJsonbWriter *w, RiskJsonbContainer *c)
{
	return JENTRY_ISCONTAINER | (uint32) (w->len - c->start);
}

static inline JEntry
risk_jsonb_string(RiskJsonbWriter *w, const char *s, int len)
{
	memcpy(w->data + w->len, s, len);
	w->len += len;
	return JENTRY_ISSTRING | (uint32) len;
}

/* A numeric, or null for NULL. */
static inline JEntry
risk_jsonb_numeric(RiskJsonbWriter *w, Numeric n)
{
	int			start = w->len;
	int			size;

	if (n == NULL)
		return JENTRY_ISNULL;
	risk_jsonb_pad(w);
	size = VARSIZE_ANY(n);
	memcpy(w->data + w->len, n, size);
	w->len += size;
	return JENTRY_ISNUMERIC | (uint32) (w->len - start);
}

/* Room a numeric takes at most (with its padding). */
static inline Size
risk_jsonb_numeric_room(Numeric n)
{
	return n == NULL ? 0 : 3 + VARSIZE_ANY(n);
}

/* Keys of an object in jsonb order: key i is slot i (stride when i % JB_OFFSET_STRIDE == 0). */
typedef struct RiskJsonbKey
{
	const char *s;
	int			len;
} RiskJsonbKey;

#define RISK_JSONB_KEY(s) {s, sizeof(s) - 1}

static inline void
risk_jsonb_keys(RiskJsonbWriter *w, RiskJsonbContainer *c, const RiskJsonbKey *keys)
{
	for (int i = 0; i < c->nchildren; i++)
		risk_jsonb_child(w, c, i, i % JB_OFFSET_STRIDE == 0,
						 risk_jsonb_string(w, keys[i].s, keys[i].len));
}

/* Value i of an object: slot n + i. */
static inline void
risk_jsonb_value(RiskJsonbWriter *w, RiskJsonbContainer *c, int i, JEntry e)
{
	risk_jsonb_child(w, c, c->nchildren + i, (c->nchildren + i) % JB_OFFSET_STRIDE == 0, e);
}

static const RiskJsonbKey risk_breakdown_keys[] = {
	RISK_JSONB_KEY("spans"), RISK_JSONB_KEY("total"), RISK_JSONB_KEY("types")
};
static const RiskJsonbKey risk_line_keys[] = {
	RISK_JSONB_KEY("count"), RISK_JSONB_KEY("share"), RISK_JSONB_KEY("points"), RISK_JSONB_KEY("span_type")
};

PG_FUNCTION_INFO_V1(prefactor_risk_agg_breakdown);
/*
 * risk_breakdown final: {spans, total, types: [{count, share, points, span_type}]},
 * lines by most points, then by name.
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
	Numeric		spans;
	Numeric		total_value;
	Numeric    *values;
	Size		room;
	RiskJsonbWriter w;
	RiskJsonbContainer root;
	RiskJsonbContainer types;
	RiskViewer	viewer;
	int64		nspans;
	int64		nscored;
	int			i;

	if (state == NULL)
		PG_RETURN_NULL();
	risk_state_totals(state, &nspans, &nscored);
	if (nspans == 0)
		PG_RETURN_NULL();
	scored = nscored > 0;
	risk_numerics_init();
	viewer = risk_viewer();

	/* one line per entry, then one per span type name (its revisions merged) */
	lines = palloc(sizeof(RiskBreakdownLine) * Max(state->nentries, 1));
	for (i = 0; i < state->nentries; i++)
	{
		RiskAggEntry *e = &state->entries[i];
		RiskBreakdownLine *l = &lines[nlines++];

		l->name = risk_pair_name(e->pair, &viewer);
		l->namelen = l->name ? strlen(l->name) : 0;
		l->count = e->count;
		memset(&l->sum, 0, sizeof(RiskSum));
		risk_sum_entry(&l->sum, e, &viewer);
		risk_sum_add(&total, &l->sum);
	}
	nlines = risk_merge_lines(lines, nlines);
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

	spans = risk_int_numeric(nspans);
	if (!scored)
		total_value = NULL;
	else if (total.n == NULL)
		total_value = risk_int_numeric(total.i);
	else
	{
		total.any = true;
		total_value = risk_sum_value(&total);
	}

	/* the values, and the room they take at most */
	values = palloc(sizeof(Numeric) * 3 * Max(nlines, 1));
	room = VARHDRSZ + 3 + 4 + 6 * sizeof(JEntry) + 15 + risk_jsonb_numeric_room(spans) +
		risk_jsonb_numeric_room(total_value) + 3 + 4 + (Size) nlines * sizeof(JEntry);
	for (i = 0; i < nlines; i++)
	{
		Numeric    *v = &values[3 * i];

		v[0] = risk_int_numeric(lines[i].count);
		v[1] = risk_share(lines[i].count, nspans);
		v[2] = lines[i].isint ? risk_int_numeric(lines[i].ipoints) : lines[i].points;
		room += 3 + 4 + 8 * sizeof(JEntry) + 25 + risk_jsonb_numeric_room(v[0]) +
			risk_jsonb_numeric_room(v[1]) + risk_jsonb_numeric_room(v[2]) +
			lines[i].namelen;
	}
	if (room > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("risk breakdown of %d span types exceeds the maximum jsonb size", nlines)));

	w.data = palloc(room);
	w.len = VARHDRSZ;
	risk_jsonb_open(&w, &root, JB_FOBJECT, 3);
	risk_jsonb_keys(&w, &root, risk_breakdown_keys);
	risk_jsonb_value(&w, &root, 0, risk_jsonb_numeric(&w, spans));
	risk_jsonb_value(&w, &root, 1, risk_jsonb_numeric(&w, total_value));
	risk_jsonb_open(&w, &types, JB_FARRAY, nlines);
	for (i = 0; i < nlines; i++)
	{
		RiskJsonbContainer line;

		risk_jsonb_open(&w, &line, JB_FOBJECT, 4);
		risk_jsonb_keys(&w, &line, risk_line_keys);
		for (int k = 0; k < 3; k++)
			risk_jsonb_value(&w, &line, k, risk_jsonb_numeric(&w, values[3 * i + k]));
		risk_jsonb_value(&w, &line, 3,
						 lines[i].name ? risk_jsonb_string(&w, lines[i].name, lines[i].namelen)
						 : JENTRY_ISNULL);
		risk_jsonb_child(&w, &types, i, i % JB_OFFSET_STRIDE == 0, risk_jsonb_close(&w, &line));
	}
	risk_jsonb_value(&w, &root, 2, risk_jsonb_close(&w, &types));
	Assert(w.len <= room);
	SET_VARSIZE(w.data, w.len);
	PG_RETURN_JSONB_P((Jsonb *) w.data);
}
