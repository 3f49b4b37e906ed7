/*
 * risk_agg_state.c
 *	  The transition state type of risk_score and risk_breakdown:
 *	  risk_agg_state, a real type rather than internal, so that Citus can
 *	  push the aggregates down as partial aggregates for groupings across
 *	  accounts (it ships a partial state between nodes through the state
 *	  type's text form; it cannot ship an internal one) and parallel plans
 *	  pass states between processes without serial functions.
 *
 *	  While a group is aggregated its state is an expanded object holding
 *	  risk_agg.c's counting state (RiskStateObject, risk_agg.h), changed in
 *	  place row by row; its flat form (on disk, between processes and nodes)
 *	  is written by risk_agg.c, and its text form is that in hex.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "risk/risk.h"
#include "risk/risk_agg.h"

StaticAssertDecl(offsetof(RiskStateObject, state) == 48 && sizeof(RiskStateObject) <= 192,
				 "a group's object is three cache lines, the state's first fields in the header's");

#define RISK_OBJECT_SIZE		192
#define RISK_OBJECTS_PER_BLOCK	64

/* The flat form is written straight into the datum PostgreSQL makes (nothing cached). */
static Size
risk_state_flat_size(ExpandedObjectHeader *eohptr)
{
	return risk_agg_flat_size(&((RiskStateObject *) eohptr)->state);
}

static void
risk_state_flatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	RiskStateObject *obj = (RiskStateObject *) eohptr;

	Assert(allocated_size == risk_agg_flat_size(&obj->state));
	risk_agg_flatten(&obj->state, result);
}

const ExpandedObjectMethods risk_state_methods = {risk_state_flat_size, risk_state_flatten};

/*
 * The groups' expanded objects share one context under the aggregate's (a
 * context per group would take a kilobyte per group where the object takes
 * 192 bytes), carved from blocks there at cache-line boundaries. The
 * aggregate keeps an object as its transition value without copying it
 * because that context's parent is the aggregate's context; it never deletes
 * one, since the transition and combine functions return the object they
 * were given. The shared context is forgotten when the aggregate's context
 * is reset or deleted (with it).
 */
typedef struct RiskSharedContext
{
	MemoryContext aggcxt;
	MemoryContext shared;
	char	   *free;			/* the current block's next object */
	char	   *end;			/* the current block's end */
	MemoryContextCallback forget;
	struct RiskSharedContext *next;
} RiskSharedContext;

static RiskSharedContext *risk_shared_contexts = NULL;

static void
risk_shared_context_forget(void *arg)
{
	RiskSharedContext **link;

	for (link = &risk_shared_contexts; *link != NULL; link = &(*link)->next)
		if (*link == (RiskSharedContext *) arg)
		{
			*link = (*link)->next;
			break;
		}
}

static RiskSharedContext *
risk_shared_context(MemoryContext aggcxt)
{
	RiskSharedContext *entry;

	for (entry = risk_shared_contexts; entry != NULL; entry = entry->next)
		if (entry->aggcxt == aggcxt)
			return entry;
	entry = MemoryContextAlloc(aggcxt, sizeof(RiskSharedContext));
	entry->aggcxt = aggcxt;
	entry->shared = AllocSetContextCreate(aggcxt, "prefactor risk states", ALLOCSET_DEFAULT_SIZES);
	entry->free = NULL;
	entry->end = NULL;
	entry->forget.func = risk_shared_context_forget;
	entry->forget.arg = entry;
	MemoryContextRegisterResetCallback(aggcxt, &entry->forget);
	entry->next = risk_shared_contexts;
	risk_shared_contexts = entry;
	return entry;
}

/* A new expanded object holding an empty state, in the shared context under the aggregate's. */
static RiskStateObject *
risk_state_new_object(MemoryContext aggcxt)
{
	RiskSharedContext *shared = risk_shared_context(aggcxt);
	RiskStateObject *obj;

	if (shared->free == NULL || shared->end - shared->free < RISK_OBJECT_SIZE)
	{
		char	   *block = MemoryContextAlloc(shared->shared,
											   RISK_OBJECTS_PER_BLOCK * RISK_OBJECT_SIZE + 64);

		shared->free = (char *) TYPEALIGN(64, block);
		shared->end = shared->free + RISK_OBJECTS_PER_BLOCK * RISK_OBJECT_SIZE;
	}
	obj = (RiskStateObject *) shared->free;
	shared->free += RISK_OBJECT_SIZE;
	EOH_init_header(&obj->hdr, &risk_state_methods, shared->shared);
	risk_agg_init(&obj->state);
	return obj;
}

static MemoryContext
risk_state_aggcontext(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("%s called in non-aggregate context", fname)));
	return aggcxt;
}

/*
 * Argument argno as a state to read (NULL for NULL): an expanded object's,
 * or a flat one read into the current context.
 */
static RiskAggState *
risk_state_arg(FunctionCallInfo fcinfo, int argno)
{
	RiskStateObject *obj;
	RiskAggState *state;
	bool		rw;

	if (PG_ARGISNULL(argno))
		return NULL;
	obj = risk_state_object(PG_GETARG_DATUM(argno), &rw);
	if (obj != NULL)
		return &obj->state;
	state = risk_agg_new(CurrentMemoryContext);
	risk_agg_merge_flat(CurrentMemoryContext, state, DatumGetByteaPP(PG_GETARG_DATUM(argno)));
	return state;
}

/*
 * The state argument 0 as an object to change: our own read-write expanded
 * object, else (a flat state or a read-only pointer) a new object holding its
 * spans; NULL for NULL.
 */
static RiskStateObject *
risk_state_for_update(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	RiskStateObject *other;
	RiskStateObject *obj;
	Datum		d;
	bool		rw;

	if (PG_ARGISNULL(0))
		return NULL;
	d = PG_GETARG_DATUM(0);
	other = risk_state_object(d, &rw);
	if (other != NULL && rw)
		return other;
	obj = risk_state_new_object(aggcxt);
	if (other != NULL)
		risk_agg_merge(obj->hdr.eoh_context, &obj->state, &other->state);
	else
		risk_agg_merge_flat(obj->hdr.eoh_context, &obj->state, DatumGetByteaPP(d));
	return obj;
}

/*
 * Transition (prefactor_risk_agg_state_trans in risk_agg.c) when the state
 * is not our read-write object: the group's first row, or a flat state.
 */
Datum
risk_state_trans_general(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt = risk_state_aggcontext(fcinfo, "risk_agg_trans");
	RiskStateObject *obj = risk_state_for_update(fcinfo, aggcxt);

	if (obj == NULL)
		obj = risk_state_new_object(aggcxt);
	risk_agg_count(obj->hdr.eoh_context, &obj->state, fcinfo);
	return EOHPGetRWDatum(&obj->hdr);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_combine);
/* Combine: the second state merged into the first; a flat one is merged as it is read. */
Datum
prefactor_risk_agg_state_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = risk_state_aggcontext(fcinfo, "risk_agg_combine");
	RiskStateObject *obj = risk_state_for_update(fcinfo, aggcxt);
	RiskStateObject *other;
	bool		rw;

	if (PG_ARGISNULL(1))
	{
		if (obj == NULL)
			PG_RETURN_NULL();
		return EOHPGetRWDatum(&obj->hdr);
	}
	if (obj == NULL)
		obj = risk_state_new_object(aggcxt);
	other = risk_state_object(PG_GETARG_DATUM(1), &rw);
	if (other != NULL)
		risk_agg_merge(obj->hdr.eoh_context, &obj->state, &other->state);
	else
		risk_agg_merge_flat(obj->hdr.eoh_context, &obj->state, DatumGetByteaPP(PG_GETARG_DATUM(1)));
	return EOHPGetRWDatum(&obj->hdr);
}

/* A final function over the state: one of risk_agg.c's, given the state as argument 0. */
static Datum
risk_state_final(FunctionCallInfo fcinfo, PGFunction fn)
{
	RiskAggState *state = risk_state_arg(fcinfo, 0);
	Datum		saved = fcinfo->args[0].value;
	Datum		result;

	if (state == NULL)
		PG_RETURN_NULL();
	fcinfo->args[0].value = PointerGetDatum(state);
	fcinfo->isnull = false;
	result = fn(fcinfo);
	fcinfo->args[0].value = saved;
	return result;
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_score);
Datum
prefactor_risk_agg_state_score(PG_FUNCTION_ARGS)
{
	return risk_state_final(fcinfo, prefactor_risk_agg_score);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_breakdown);
Datum
prefactor_risk_agg_state_breakdown(PG_FUNCTION_ARGS)
{
	return risk_state_final(fcinfo, prefactor_risk_agg_breakdown);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_out);
/* Text form: the flat form in hex (\x...), as bytea prints it. */
Datum
prefactor_risk_agg_state_out(PG_FUNCTION_ARGS)
{
	Datum		d = PG_GETARG_DATUM(0);
	bool		rw;
	RiskStateObject *obj = risk_state_object(d, &rw);
	bytea	   *flat = obj != NULL ? risk_agg_serialize_state(&obj->state) : DatumGetByteaPP(d);

	return DirectFunctionCall1(byteaout, PointerGetDatum(flat));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_in);
/* From the text form; a malformed state raises invalid_binary_representation. */
Datum
prefactor_risk_agg_state_in(PG_FUNCTION_ARGS)
{
	bytea	   *flat = DatumGetByteaPP(DirectFunctionCall1(byteain, PG_GETARG_DATUM(0)));

	risk_agg_merge_flat(NULL, NULL, flat);	/* checks it */
	PG_RETURN_BYTEA_P(flat);
}
