/*
 * risk_agg.h
 *	  Between the two halves of the risk aggregates: the counting state
 *	  (risk_agg.c) and its type risk_agg_state, an expanded object wrapping
 *	  it while a group is aggregated (risk_agg_state.c).
 */
#ifndef PREFACTOR_RISK_AGG_H
#define PREFACTOR_RISK_AGG_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/expandeddatum.h"

struct RiskPairEntry;			/* a (span type, revision) pair interned for the backend */

/* Spans counted under one pair. */
typedef struct RiskAggEntry
{
	struct RiskPairEntry *pair;
	int64		count;
} RiskAggEntry;

#define RISK_INLINE_ENTRIES	6

/*
 * A group's state: its spans counted by (span type, revision) pair; how many
 * spans it has, and how many of them have a revision, are sums of the
 * counts.  What a row reads first comes first, what only states of many
 * pairs use comes last.
 */
typedef struct RiskAggState
{
	int32		nentries;
	int32		maxentries;
	RiskAggEntry *entries;		/* inline_entries or a separate array */
	RiskAggEntry inline_entries[RISK_INLINE_ENTRIES];
	int		   *index;			/* NULL, or open addressing over entries, -1 = empty */
	int32		indexsize;		/* 0 or the size of index */
	int32		last;			/* entry hit by the previous lookup (with an index) */
} RiskAggState;

/*
 * A group's state while it is aggregated: an expanded object holding it, so
 * that a row's lookups start in the header's cache line (the state's first
 * fields follow the 48-byte header) and a group takes 192 bytes.
 */
typedef struct RiskStateObject
{
	ExpandedObjectHeader hdr;
	RiskAggState state;
} RiskStateObject;

extern const ExpandedObjectMethods risk_state_methods;

/*
 * The expanded object of a datum of ours, or NULL for a flat one; *rw says
 * whether the datum is the read-write pointer, through which it may be
 * changed in place.  (DatumGetEOHP inlined: the transition runs it per row.)
 */
static inline RiskStateObject *
risk_state_object(Datum d, bool *rw)
{
	Pointer		p = DatumGetPointer(d);

	if (VARATT_IS_EXTERNAL_EXPANDED(p))
	{
		varatt_expanded ptr;

		memcpy(&ptr, VARDATA_EXTERNAL(p), sizeof(ptr));
		if (ptr.eohptr->eoh_methods == &risk_state_methods)
		{
			*rw = VARATT_IS_EXTERNAL_EXPANDED_RW(p);
			return (RiskStateObject *) ptr.eohptr;
		}
	}
	*rw = false;
	return NULL;
}

/* risk_agg.c: the counting state */
extern void risk_agg_init(RiskAggState *state);
extern RiskAggState *risk_agg_new(MemoryContext cxt);
extern void risk_agg_count(MemoryContext cxt, RiskAggState *state, FunctionCallInfo fcinfo);
extern void risk_agg_merge(MemoryContext cxt, RiskAggState *into, const RiskAggState *from);
extern void risk_agg_merge_flat(MemoryContext cxt, RiskAggState *into, const bytea *flat);
extern Size risk_agg_flat_size(const RiskAggState *state);
extern void risk_agg_flatten(const RiskAggState *state, void *out);
extern bytea *risk_agg_serialize_state(const RiskAggState *state);
extern Datum prefactor_risk_agg_score(PG_FUNCTION_ARGS);
extern Datum prefactor_risk_agg_breakdown(PG_FUNCTION_ARGS);

/* risk_agg_state.c: the transition when the state is not yet our read-write object */
extern Datum risk_state_trans_general(FunctionCallInfo fcinfo);

#endif
