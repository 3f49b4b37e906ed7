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

typedef struct RiskStateObject
{
	ExpandedObjectHeader hdr;
	void	   *state;			/* risk_agg.c's state, in the aggregate's context */
	bytea	   *flat;			/* its flat form, or NULL when not made since the last change */
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
extern void *risk_agg_count(MemoryContext aggcxt, void *state, FunctionCallInfo fcinfo);
extern void *risk_agg_merge(MemoryContext aggcxt, void *into, const void *from);
extern void *risk_agg_merge_flat(MemoryContext aggcxt, void *into, const bytea *flat);
extern bytea *risk_agg_serialize_state(const void *state);
extern Datum prefactor_risk_agg_score(PG_FUNCTION_ARGS);
extern Datum prefactor_risk_agg_breakdown(PG_FUNCTION_ARGS);

/* risk_agg_state.c: the transition when the state is not yet our read-write object */
extern Datum risk_state_trans_general(FunctionCallInfo fcinfo);

#endif
