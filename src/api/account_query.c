/*
 * account_query.c
 *	  Queries of one account's rows that PL/pgSQL bodies (the SDK protocol,
 *	  the ingest token check) call as functions. Each is a SQL function
 *	  declared over prefactor_account_query, whose first argument is the
 *	  account; the query runs as a saved plan in that account's shard scope,
 *	  so on the Citus worker holding the account it reads and writes the
 *	  shards directly, as the run and span calls do, instead of being one
 *	  more statement for Citus to plan, route and execute locally
 *	  (doc/scale-out.md). On a single node it is a saved plan of the query.
 *	  The answer is the first column of the first row, or NULL.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/typcache.h"

#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/index_read.h"
#include "core/pfid.h"

typedef struct AccountQuery
{
	const char *function;		/* the SQL function's name in schema prefactor */
	const char *sql;			/* $1 is the account, then the function's other arguments */
	const char *key_table;		/* a row of this table by its primary key (account, $2), or NULL */
} AccountQuery;

/*
 * A row by its primary key (key_table) is read through that index directly
 * wherever the table's rows are here (the table, or the account's shard in
 * the shard scope): no plan, which for a generic plan could as well pick
 * another index leading with account_id, the agent's runs, and read every run
 * the agent ever had. Elsewhere (a Citus coordinator) the query runs.
 */

/* The SQL functions' declarations are in sql/install (50-sdk.sql, 40-ingest-tokens.sql). */
static const AccountQuery account_queries[] = {
	{"ingest_token_by_id",
		"SELECT t FROM prefactor.ingest_tokens t"
		" WHERE t.account_id OPERATOR(prefactor.=) $1 AND t.id OPERATOR(prefactor.=) $2", "ingest_tokens"},
	{"instance_row",
		"SELECT i FROM prefactor.instances i"
		" WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2", "instances"},
	{"sdk_span",
		"SELECT s FROM prefactor.spans s"
		" WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2", "spans"},
	{"sdk_client_span",
		"SELECT k.id FROM prefactor.sdk_spans k WHERE k.account_id OPERATOR(prefactor.=) $1"
		" AND k.instance_id OPERATOR(prefactor.=) $2 AND k.client_span_id OPERATOR(pg_catalog.=) $3"},
	{"sdk_note_span",
		"INSERT INTO prefactor.sdk_spans AS k (account_id, id, instance_id, client_span_id, trace_id, error)"
		" VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, id)"
		" DO UPDATE SET error = excluded.error WHERE $7 RETURNING true"},
	{"sdk_instance_details",
		"SELECT pg_catalog.jsonb_build_object('type', 'agent_instance', 'id', i.id, 'account_id', i.account_id,"
		" 'agent_id', i.agent_id, 'agent_version_id', i.version_id, 'environment_id', i.environment_id,"
		" 'status', i.status, 'purpose', i.purpose, 'inserted_at', i.registered_at,"
		" 'started_at', i.started_at, 'finished_at', i.finished_at,"
		" 'termination_reason', i.termination_reason)"
		" FROM prefactor.instances i WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2"},
	{"sdk_span_details",
		"SELECT pg_catalog.jsonb_build_object('type', 'agent_span', 'id', s.id, 'account_id', s.account_id,"
		" 'agent_instance_id', s.instance_id, 'parent_span_id', s.parent_span_id,"
		" 'schema_name', s.span_type, 'status', s.status, 'payload', s.payload,"
		" 'result_payload', coalesce(s.result, k.error), 'started_at', s.started_at,"
		" 'finished_at', s.finished_at)"
		" FROM prefactor.spans s LEFT JOIN prefactor.sdk_spans k"
		" ON k.account_id OPERATOR(prefactor.=) s.account_id AND k.id OPERATOR(prefactor.=) s.id"
		" WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2"},
};

/* One saved plan per query, prepared on first use (reset with the other saved plans). */
static SPIPlanPtr account_query_plans[lengthof(account_queries)];

/* What a call site keeps between calls (fn_extra): its query and argument types. */
typedef struct AccountQueryCall
{
	int			query;
	int			nargs;
	Oid		   *argtypes;
	Oid			result_type;
	int16		result_len;
	bool		result_byval;
	Oid			key_table;		/* the key_table's oid, or invalid */
	Oid			converted_from; /* the relation map was made for */
	TupleConversionMap *map;	/* its rows to the result type's, NULL when alike */
	TupleDesc	result_desc;
} AccountQueryCall;

static AccountQueryCall *
account_query_call(FunctionCallInfo fcinfo)
{
	AccountQueryCall *call = fcinfo->flinfo->fn_extra;
	Oid			fn = fcinfo->flinfo->fn_oid;
	char	   *name;
	Oid			result_type;

	if (call != NULL)
		return call;
	name = get_func_name(fn);
	call = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(AccountQueryCall));
	call->query = -1;
	for (int i = 0; i < lengthof(account_queries); i++)
		if (name != NULL && strcmp(account_queries[i].function, name) == 0)
			call->query = i;
	if (call->query < 0 || get_func_namespace(fn) != get_namespace_oid("prefactor", false))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("function %s is not one of prefactor's account queries", name ? name : "?"),
				 errhint("prefactor_account_query serves only the functions listed in src/api/account_query.c.")));
	result_type = get_func_signature(fn, &call->argtypes, &call->nargs);
	call->result_type = result_type;
	get_typlenbyval(result_type, &call->result_len, &call->result_byval);
	if (account_queries[call->query].key_table != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		call->key_table = get_relname_relid(account_queries[call->query].key_table,
											get_namespace_oid("prefactor", false));
		call->result_desc = lookup_rowtype_tupdesc_copy(result_type, -1);
		MemoryContextSwitchTo(old);
	}
	if (call->argtypes != NULL && call->nargs > 0)
	{
		Oid		   *copy = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, call->nargs * sizeof(Oid));

		memcpy(copy, call->argtypes, call->nargs * sizeof(Oid));
		call->argtypes = copy;
	}
	fcinfo->flinfo->fn_extra = call;
	return call;
}

/*
 * A key_table query's row read through the primary key where the rows are
 * here; false when they are not (the query is to run), else *isnull and the
 * row as a datum of the function's result type.
 */
static bool
account_row_by_key(FunctionCallInfo fcinfo, AccountQueryCall *call, Datum *result, bool *isnull)
{
	Oid			relid;
	Relation	rel;
	TupleTableSlot *slot;

	/* a repeatable-read transaction reads with its snapshot, through the query */
	if (!OidIsValid(call->key_table) || IsolationUsesXactSnapshot() || PG_ARGISNULL(1))
		return false;
	relid = prefactor_citus_local_relid(call->key_table);
	if (!OidIsValid(relid))
		return false;
	/* what earlier commands of this transaction wrote is seen, as by a query */
	CommandCounterIncrement();
	rel = table_open(relid, AccessShareLock);
	slot = table_slot_create(rel, NULL);
	*isnull = !prefactor_index_first(rel, RelationGetPrimaryKeyIndex(rel), PG_GETARG_PFID_P(0),
									 PG_GETARG_PFID_P(1), ForwardScanDirection, NULL, slot);
	if (!*isnull)
	{
		HeapTuple	tuple = ExecCopySlotHeapTuple(slot);

		/* a shard's columns are the table's, but its dropped ones may differ */
		if (call->converted_from != relid)
		{
			MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

			call->map = convert_tuples_by_name(RelationGetDescr(rel), call->result_desc);
			call->converted_from = relid;
			MemoryContextSwitchTo(old);
		}
		if (call->map != NULL)
			tuple = execute_attr_map_tuple(tuple, call->map);
		*result = heap_copy_tuple_as_datum(tuple, call->result_desc);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	return true;
}

PG_FUNCTION_INFO_V1(prefactor_account_query);
Datum
prefactor_account_query(PG_FUNCTION_ARGS)
{
	AccountQueryCall *call = account_query_call(fcinfo);
	const AccountQuery *q = &account_queries[call->query];
	Datum		values[FUNC_MAX_ARGS];
	char		nulls[FUNC_MAX_ARGS];
	Datum		result = (Datum) 0;
	bool		isnull = true;
	void	   *scope;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	(void) prefactor_pfid_oid();	/* saved plans of a dropped extension are forgotten */
	for (int i = 0; i < call->nargs; i++)
	{
		values[i] = PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	scope = prefactor_citus_scope_begin(PG_GETARG_PFID_P(0));
	if (account_row_by_key(fcinfo, call, &result, &isnull))
	{
		prefactor_citus_scope_end(scope);
		if (isnull)
			PG_RETURN_NULL();
		return result;
	}
	SPI_connect();
	prefactor_spi_execute_generic(&account_query_plans[call->query], q->sql, call->nargs, call->argtypes,
								  values, nulls, false, 1);
	if (SPI_processed > 0)
	{
		result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			result = SPI_datumTransfer(result, call->result_byval, call->result_len);
	}
	SPI_finish();
	prefactor_citus_scope_end(scope);
	if (isnull)
		PG_RETURN_NULL();
	return result;
}
