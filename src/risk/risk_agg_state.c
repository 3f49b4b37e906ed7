/*
 * risk_agg_state.c
 *	  The transition state type of risk_score and risk_breakdown:
 *	  risk_agg_state, a real type rather than internal, so that Citus can
 *	  push the aggregates down as partial aggregates for groupings across
 *	  accounts (it ships a partial state between nodes through the state
 *	  type's text form; it cannot ship an internal one) and parallel plans
 *	  pass states between processes without serial functions.
 *
 *	  While a group is aggregated the state is an expanded object wrapping
 *	  the counting state of risk_agg.c, so a row costs what it cost with an
 *	  internal state; its flat form (on disk, between processes and nodes) is
 *	  risk_agg.c's serialized state, and its text form that in hex.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/expandeddatum.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "risk/risk.h"

/* risk_agg.c's transition, combine and final functions over the internal state */
extern Datum prefactor_risk_agg_combine(PG_FUNCTION_ARGS);
extern Datum prefactor_risk_agg_score(PG_FUNCTION_ARGS);
extern Datum prefactor_risk_agg_breakdown(PG_FUNCTION_ARGS);

typedef struct RiskStateObject
{
	ExpandedObjectHeader hdr;
	void	   *state;			/* risk_agg.c's state, in the aggregate's context */
	bytea	   *flat;			/* its serialized form, or NULL when not made since the last change */
} RiskStateObject;

static Size
risk_state_flat_size(ExpandedObjectHeader *eohptr)
{
	RiskStateObject *obj = (RiskStateObject *) eohptr;

	if (obj->flat == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(obj->hdr.eoh_context);

		obj->flat = risk_agg_serialize_state(obj->state);
		MemoryContextSwitchTo(old);
	}
	return VARSIZE(obj->flat);
}

static void
risk_state_flatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	RiskStateObject *obj = (RiskStateObject *) eohptr;

	Assert(obj->flat != NULL && allocated_size == VARSIZE(obj->flat));
	memcpy(result, obj->flat, allocated_size);
}

static const ExpandedObjectMethods risk_state_methods = {risk_state_flat_size, risk_state_flatten};

/* The expanded object of a datum of ours, or NULL for a flat one. */
static RiskStateObject *
risk_state_object(Datum d)
{
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods == &risk_state_methods)
			return (RiskStateObject *) eoh;
	}
	return NULL;
}

/*
 * The groups' expanded objects share one context under the aggregate's (a
 * context per group would take a kilobyte per group where the state takes
 * 144 bytes). The aggregate keeps an object as its transition value
 * without copying it because that context's parent is the aggregate's
 * context; it never deletes one, since the transition and combine functions
 * return the object they were given. The shared context is forgotten when
 * the aggregate's context is reset or deleted (with it).
 */
typedef struct RiskSharedContext
{
	MemoryContext aggcxt;
	MemoryContext shared;
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

static MemoryContext
risk_shared_context(MemoryContext aggcxt)
{
	RiskSharedContext *entry;

	for (entry = risk_shared_contexts; entry != NULL; entry = entry->next)
		if (entry->aggcxt == aggcxt)
			return entry->shared;
	entry = MemoryContextAlloc(aggcxt, sizeof(RiskSharedContext));
	entry->aggcxt = aggcxt;
	entry->shared = AllocSetContextCreate(aggcxt, "prefactor risk states", ALLOCSET_DEFAULT_SIZES);
	entry->forget.func = risk_shared_context_forget;
	entry->forget.arg = entry;
	MemoryContextRegisterResetCallback(aggcxt, &entry->forget);
	entry->next = risk_shared_contexts;
	risk_shared_contexts = entry;
	return entry->shared;
}

/* A new expanded object for a state, in the shared context under the aggregate's. */
static Datum
risk_state_wrap(MemoryContext aggcxt, void *state)
{
	MemoryContext cxt = risk_shared_context(aggcxt);
	RiskStateObject *obj = MemoryContextAlloc(cxt, sizeof(RiskStateObject));

	EOH_init_header(&obj->hdr, &risk_state_methods, cxt);
	obj->state = state;
	obj->flat = NULL;
	return EOHPGetRWDatum(&obj->hdr);
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
 * Argument argno as risk_agg.c's state (NULL for NULL): the wrapped state of
 * an expanded object, or a flat one read into the current context.
 */
static void *
risk_state_arg(FunctionCallInfo fcinfo, int argno, RiskStateObject **obj)
{
	Datum		d;

	*obj = NULL;
	if (PG_ARGISNULL(argno))
		return NULL;
	d = PG_GETARG_DATUM(argno);
	*obj = risk_state_object(d);
	if (*obj != NULL)
		return (*obj)->state;
	return risk_agg_deserialize_state(DatumGetByteaPP(d));
}

/* Calls one of risk_agg.c's functions with argument 0 (and 1) replaced by states. */
static Datum
risk_state_call(FunctionCallInfo fcinfo, PGFunction fn, int nstates, void **states, bool *isnull)
{
	Datum		saved[2];
	bool		saved_null[2];
	Datum		result;

	for (int i = 0; i < nstates; i++)
	{
		saved[i] = fcinfo->args[i].value;
		saved_null[i] = fcinfo->args[i].isnull;
		fcinfo->args[i].value = PointerGetDatum(states[i]);
		fcinfo->args[i].isnull = states[i] == NULL;
	}
	fcinfo->isnull = false;
	result = fn(fcinfo);
	*isnull = fcinfo->isnull;
	for (int i = 0; i < nstates; i++)
	{
		fcinfo->args[i].value = saved[i];
		fcinfo->args[i].isnull = saved_null[i];
	}
	return result;
}

/*
 * The state to change: the expanded object's own, or else (NULL, or a flat
 * state) a new state in the aggregate's context, the flat one merged into it.
 */
static void *
risk_state_for_update(FunctionCallInfo fcinfo, RiskStateObject **obj)
{
	void	   *state = risk_state_arg(fcinfo, 0, obj);
	void	   *states[2];
	bool		isnull;
	Datum		d;

	if (*obj != NULL || state == NULL)
		return state;
	/* risk_agg.c's combine of (NULL, flat) copies it into the aggregate's context */
	states[0] = NULL;
	states[1] = state;
	d = risk_state_call(fcinfo, prefactor_risk_agg_combine, 2, states, &isnull);
	return isnull ? NULL : DatumGetPointer(d);
}

/* The result: the same expanded object (changed in place) or a new one. */
static Datum
risk_state_result(FunctionCallInfo fcinfo, RiskStateObject *obj, void *state)
{
	if (state == NULL)
		PG_RETURN_NULL();
	if (obj != NULL)
	{
		obj->state = state;
		obj->flat = NULL;
		return EOHPGetRWDatum(&obj->hdr);
	}
	return risk_state_wrap(risk_state_aggcontext(fcinfo, "risk_agg_state"), state);
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_trans);
/* Transition: count one span by (span_type_id, revision). */
Datum
prefactor_risk_agg_state_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = risk_state_aggcontext(fcinfo, "risk_agg_trans");
	RiskStateObject *obj;
	void	   *state = risk_state_for_update(fcinfo, &obj);

	/* counted in place, without a second call through fmgr */
	return risk_state_result(fcinfo, obj, risk_agg_count(aggcxt, state, fcinfo));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_combine);
/* Combine: the second state merged into the first. */
Datum
prefactor_risk_agg_state_combine(PG_FUNCTION_ARGS)
{
	RiskStateObject *obj;
	RiskStateObject *other;
	void	   *states[2];
	bool		isnull;
	Datum		d;

	(void) risk_state_aggcontext(fcinfo, "risk_agg_combine");
	states[0] = risk_state_for_update(fcinfo, &obj);
	states[1] = risk_state_arg(fcinfo, 1, &other);
	d = risk_state_call(fcinfo, prefactor_risk_agg_combine, 2, states, &isnull);
	return risk_state_result(fcinfo, obj, isnull ? NULL : DatumGetPointer(d));
}

/* A final function over the state. */
static Datum
risk_state_final(FunctionCallInfo fcinfo, PGFunction fn)
{
	RiskStateObject *obj;
	void	   *state = risk_state_arg(fcinfo, 0, &obj);
	bool		isnull;
	Datum		d;

	if (state == NULL)
		PG_RETURN_NULL();
	d = risk_state_call(fcinfo, fn, 1, &state, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	return d;
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
	RiskStateObject *obj = risk_state_object(d);
	bytea	   *flat = obj != NULL ? risk_agg_serialize_state(obj->state) : DatumGetByteaPP(d);

	return DirectFunctionCall1(byteaout, PointerGetDatum(flat));
}

PG_FUNCTION_INFO_V1(prefactor_risk_agg_state_in);
/* From the text form; a malformed state raises invalid_binary_representation. */
Datum
prefactor_risk_agg_state_in(PG_FUNCTION_ARGS)
{
	bytea	   *flat = DatumGetByteaPP(DirectFunctionCall1(byteain, PG_GETARG_DATUM(0)));

	(void) risk_agg_deserialize_state(flat);	/* checks it */
	PG_RETURN_BYTEA_P(flat);
}
