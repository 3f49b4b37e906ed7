/*
 * span_api.c
 *	  The span calls agents make for every step: prefactor_start_span,
 *	  prefactor_record_span and prefactor_finish_span. They are the hot path,
 *	  so they are C over backend caches and write their row through the
 *	  table AM (src/core/row_write.c), with the span triggers, constraints
 *	  and foreign keys applied exactly as for a plain INSERT/UPDATE; where
 *	  only a statement will do (Citus, repeatable read) they run a saved
 *	  plan of one. Each answers a span_ack (span_id, terminate, reason).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "access/account_access.h"
#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/excerpt.h"
#include "core/row_write.h"
#include "guard/guard.h"
#include "risk/risk.h"

typedef struct SpanAck
{
	bool		has_span;
	Pfid		span_id;
	bool		terminate;
	char	   *reason;
} SpanAck;

/* Builds the span_ack composite a span function returns. */
static Datum
ack_datum(FunctionCallInfo fcinfo, const SpanAck *ack)
{
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {!ack->has_span, false, ack->reason == NULL};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "span functions must return prefactor.span_ack");
	desc = BlessTupleDesc(desc);
	if (ack->has_span)
	{
		Pfid	   *copy = palloc(sizeof(Pfid));

		memcpy(copy, &ack->span_id, sizeof(Pfid));
		values[0] = PfidPGetDatum(copy);
	}
	else
		values[0] = (Datum) 0;
	values[1] = BoolGetDatum(ack->terminate);
	values[2] = ack->reason ? CStringGetTextDatum(ack->reason) : (Datum) 0;
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* Reads a span_ack back from the jsonb stored with an idempotency key. */
static void
ack_from_jsonb(Datum answer, SpanAck *ack, MemoryContext caller)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {JSONBOID};
	bool		isnull;
	Datum		d;

	prefactor_spi_execute(&plan,
						  "SELECT r.span_id, coalesce(r.terminate, false), r.reason"
						  " FROM pg_catalog.jsonb_populate_record(NULL::prefactor.span_ack, $1) r",
						  1, argtypes, &answer, NULL, true, 1);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	ack->has_span = !isnull;
	if (!isnull)
		memcpy(&ack->span_id, DatumGetPfidP(d), sizeof(Pfid));
	ack->terminate = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	ack->reason = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (ack->reason)
		ack->reason = MemoryContextStrdup(caller, ack->reason);
}

/* Stores the answer of a call that claimed an idempotency key. */
static void
answer_key(const Pfid *account, Datum key, const SpanAck *ack)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[5] = {prefactor_pfid_oid(), TEXTOID, prefactor_pfid_oid(), BOOLOID, TEXTOID};
	Datum		values[5] = {PfidPGetDatum(account), key,
	PfidPGetDatum(&ack->span_id), BoolGetDatum(ack->terminate),
	ack->reason ? CStringGetTextDatum(ack->reason) : (Datum) 0};
	char		nulls[5] = {' ', ' ', ack->has_span ? ' ' : 'n', ' ', ack->reason ? ' ' : 'n'};

	prefactor_spi_execute(&plan,
						  "SELECT prefactor.idempotency_answer($1, $2, pg_catalog.jsonb_build_object("
						  "'span_id', $3, 'terminate', $4, 'reason', $5))",
						  5, argtypes, values, nulls, false, 1);
}

/* The account of an instance or span id a span call names, for ingest. */
static const Pfid *
owning_account(Datum id, bool isnull, const char *what)
{
	return prefactor_owning_account(isnull ? NULL : DatumGetPfidP(id), what, "ingest");
}

/* Arguments of a new span, in the order of the insert plan's parameters. */
enum
{
	NS_ACCOUNT, NS_INSTANCE, NS_PARENT, NS_SPAN_TYPE, NS_STATUS, NS_PAYLOAD, NS_RESULT,
	NS_STARTED, NS_FINISHED, NS_NARGS
};

/* The spans columns of those arguments, and of what a span call reads back. */
static const char *const span_arg_columns[NS_NARGS] = {
	"account_id", "instance_id", "parent_span_id", "span_type", "status", "payload", "result",
	"started_at", "finished_at"
};

/*
 * The spans table and its columns, and those of the relation a span was last
 * written in (on Citus, the account's shard here, whose column numbers may
 * differ), found again after a relcache invalidation of either.
 */
typedef struct SpansTable
{
	Oid			relid;
	AttrNumber	arg[NS_NARGS];
	AttrNumber	id;
	AttrNumber	raised_run_risk;
} SpansTable;

static SpansTable spans_table = {InvalidOid};
static SpansTable spans_written = {InvalidOid};

static void
spans_table_forget(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == spans_table.relid)
		spans_table.relid = InvalidOid;
	if (relid == InvalidOid || relid == spans_written.relid)
		spans_written.relid = InvalidOid;
}

static AttrNumber
spans_column(Oid relid, const char *name)
{
	AttrNumber	attnum = get_attnum(relid, name);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of prefactor.spans is missing", name);
	return attnum;
}

static void
spans_columns_fill(SpansTable *t, Oid relid)
{
	prefactor_on_relcache_invalidation(spans_table_forget, (Datum) 0);
	for (int i = 0; i < NS_NARGS; i++)
		t->arg[i] = spans_column(relid, span_arg_columns[i]);
	t->id = spans_column(relid, "id");
	t->raised_run_risk = spans_column(relid, "raised_run_risk");
	t->relid = relid;
}

static const SpansTable *
spans(void)
{
	Oid			relid;

	if (OidIsValid(spans_table.relid))
		return &spans_table;
	relid = get_relname_relid("spans", get_namespace_oid("prefactor", false));
	if (!OidIsValid(relid))
		elog(ERROR, "relation prefactor.spans is missing");
	spans_columns_fill(&spans_table, relid);
	return &spans_table;
}

/* The columns of the relation a row write opened: the spans table or its shard here. */
static const SpansTable *
spans_written_in(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (relid == spans()->relid)
		return &spans_table;
	if (spans_written.relid != relid)
		spans_columns_fill(&spans_written, relid);
	return &spans_written;
}

/*
 * Stores a new span through the table AM, unless its run is terminated
 * (then it stores nothing; the caller answers the signal). False when a
 * statement must store it instead (row_write.c says when).
 */
static bool
insert_span_direct(const Datum *args, const char *arg_nulls, SpanAck *ack, bool *raised)
{
	const SpansTable *t = spans();
	RowWrite	w;
	RunState	run;
	TupleTableSlot *row;
	int			natts;
	Datum	   *values;
	bool	   *nulls;
	bool	   *given;
	bool		isnull;
	Datum		d;

	if (!prefactor_row_write_begin(&w, t->relid, CMD_INSERT))
		return false;
	t = spans_written_in(w.rel);
	/* the run's lock first, as the insert plan's FOR NO KEY UPDATE takes it */
	prefactor_lock_run(DatumGetPfidP(args[NS_ACCOUNT]), DatumGetPfidP(args[NS_INSTANCE]), &run);
	if (strcmp(run.status, "terminated") != 0)
	{
		/* the run stays locked until the transaction ends: the span's key to it needs no check */
		if (OidIsValid(run.relid))
			prefactor_row_write_holds(&w, run.relid, DatumGetPfidP(args[NS_ACCOUNT]),
									  DatumGetPfidP(args[NS_INSTANCE]));
		natts = RelationGetDescr(w.rel)->natts;
		values = palloc0(sizeof(Datum) * natts);
		nulls = palloc0(sizeof(bool) * natts);
		given = palloc0(sizeof(bool) * natts);
		for (int i = 0; i < NS_NARGS; i++)
		{
			/* a NULL payload takes the column's default, as the plan's coalesce does */
			if (i == NS_PAYLOAD && arg_nulls[i] == 'n')
				continue;
			given[t->arg[i] - 1] = true;
			values[t->arg[i] - 1] = args[i];
			nulls[t->arg[i] - 1] = arg_nulls[i] == 'n';
		}
		row = prefactor_row_insert(&w, values, nulls, given);
		if (row != NULL)
		{
			ack->has_span = true;
			memcpy(&ack->span_id, DatumGetPfidP(slot_getattr(row, t->id, &isnull)), sizeof(Pfid));
			d = slot_getattr(row, t->raised_run_risk, &isnull);
			*raised = !isnull && DatumGetBool(d);
		}
	}
	prefactor_row_write_end(&w);
	return true;
}

/* The types of a new span's arguments, in NS_ order. */
static void
span_arg_types(Oid *types)
{
	Oid			pf = prefactor_pfid_oid();
	const Oid	fixed[NS_NARGS] = {pf, pf, pf, TEXTOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID, TIMESTAMPTZOID};

	memcpy(types, fixed, sizeof(fixed));
}

/* The same as one statement, for where the table AM will not do. */
static void
insert_span_statement(Datum *values, char *nulls, SpanAck *ack, bool *raised)
{
	static SPIPlanPtr insert_plan = NULL;
	Oid			types[NS_NARGS];
	bool		isnull;

	span_arg_types(types);

	prefactor_spi_execute(&insert_plan,
						  "INSERT INTO prefactor.spans (account_id, instance_id, parent_span_id,"
						  " span_type, status, payload, result, started_at, finished_at)"
						  /* the keys from the run row: Citus then runs the whole statement on its shard */
						  " SELECT i.account_id, i.id, $3, $4, $5, coalesce($6, '{}'::pg_catalog.jsonb), $7, $8, $9"
						  " FROM prefactor.instances i"
						  " WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2"
						  " AND i.status OPERATOR(pg_catalog.<>) 'terminated'"
						  " FOR NO KEY UPDATE OF i"
						  " RETURNING id, coalesce(raised_run_risk, false)",
						  NS_NARGS, types, values, nulls, false, 0);
	if (SPI_processed == 1)
	{
		ack->has_span = true;
		memcpy(&ack->span_id,
			   DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)),
			   sizeof(Pfid));
		*raised = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
}

/*
 * Stores a new span unless its run was terminated; shared by start_span and
 * record_span. operation names the call for idempotency keys.
 */
static SpanAck
insert_span(const char *operation, Datum *values, char *nulls, Datum key, bool key_null,
			const Datum *sent_times, const char *sent_nulls)
{
	static SPIPlanPtr claim_plan = NULL;
	const Pfid *account = DatumGetPfidP(values[NS_ACCOUNT]);
	const Pfid *instance = DatumGetPfidP(values[NS_INSTANCE]);
	SpanAck		ack = {0};
	RunState	run;
	bool		isnull;
	bool		raised = false;
	MemoryContext caller = CurrentMemoryContext;

	SPI_connect();
	if (!key_null)
	{
		Oid			claim_types[NS_NARGS + 4];
		Datum		claim_values[NS_NARGS + 4];
		char		claim_nulls[NS_NARGS + 4];
		Datum		prior;

		span_arg_types(claim_types);
		memcpy(claim_values, values, sizeof(Datum) * NS_NARGS);
		memcpy(claim_nulls, nulls, NS_NARGS);
		claim_types[NS_NARGS] = TEXTOID;
		claim_values[NS_NARGS] = key;
		claim_nulls[NS_NARGS] = ' ';
		claim_types[NS_NARGS + 1] = TEXTOID;
		claim_values[NS_NARGS + 1] = CStringGetTextDatum(operation);
		claim_nulls[NS_NARGS + 1] = ' ';
		/* the request is the call as sent: times the caller left out stay NULL */
		for (int i = 0; i < 2; i++)
		{
			claim_types[NS_NARGS + 2 + i] = TIMESTAMPTZOID;
			claim_values[NS_NARGS + 2 + i] = sent_times[i];
			claim_nulls[NS_NARGS + 2 + i] = sent_nulls[i];
		}
		prefactor_spi_execute(&claim_plan,
							  "SELECT prefactor.idempotency_claim($1, $10, $11, pg_catalog.jsonb_build_object("
							  "'instance', $2, 'span_type', $4, 'payload', $6, 'result', $7,"
							  " 'status', $5, 'parent_span', $3, 'started_at', $12, 'finished_at', $13))",
							  NS_NARGS + 4, claim_types, claim_values, claim_nulls, false, 1);
		prior = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			ack_from_jsonb(prior, &ack, caller);
			SPI_finish();
			return ack;
		}
	}

	/*
	 * The run is locked and the span stored unless the run was terminated
	 * (then nothing is stored and the answer is the terminate signal); the
	 * span guard judges the row as it judges any INSERT. Where the row
	 * cannot be written through the table AM, one statement does both.
	 */
	if (!insert_span_direct(values, nulls, &ack, &raised))
		insert_span_statement(values, nulls, &ack, &raised);

	/*
	 * Stored or not, the answer says whether the run is terminated now: the
	 * span that reaches the profile's level is stored and its run ends with
	 * it (live scoring), so the client learns to stop from that very call.
	 * Only a span that raised its run's level can have ended it that way.
	 */
	if ((!ack.has_span || raised) &&
		(prefactor_lock_run(account, instance, &run), strcmp(run.status, "terminated") == 0))
	{
		ack.terminate = true;
		ack.reason = run.termination_reason ? MemoryContextStrdup(caller, run.termination_reason) : NULL;
	}
	/* through a Citus coordinator, the alert of a level rise is sent here */
	if (raised)
		risk_alert_after_span(account, &ack.span_id, ack.terminate);
	if (!key_null)
		answer_key(account, key, &ack);
	SPI_finish();
	return ack;
}

/* True for the statuses that end a span. */
static bool
finished_status(const char *status)
{
	bool		open;

	return prefactor_span_status(status, &open) && !open;
}

/* Raises unless the span type argument is given. */
static void
require_span_type(bool isnull)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("span_type must not be null"),
				 errhint("Name the span type the run's schema declares, for example 'llm'.")));
}

/* Where start_span and record_span take each field (-1: not an argument). */
typedef struct SpanCallArgs
{
	const char *operation;
	int			instance,
				span_type,
				payload,
				result,
				status,
				parent,
				started,
				finished,
				key;
	const char *default_status;
} SpanCallArgs;

static const SpanCallArgs start_span_args = {"start_span", 0, 1, 2, -1, -1, 3, 4, -1, 5, "active"};
static const SpanCallArgs record_span_args = {"record_span", 0, 1, 2, 3, 4, 5, 6, 7, 8, "complete"};

/* An argument's value and null flag (' ' or 'n'); absent arguments are NULL. */
static char
get_arg(FunctionCallInfo fcinfo, int argno, Datum *value)
{
	if (argno < 0 || PG_ARGISNULL(argno))
	{
		*value = (Datum) 0;
		return 'n';
	}
	*value = PG_GETARG_DATUM(argno);
	return ' ';
}

/* The body of start_span and record_span: checks, defaults, then insert_span. */
static Datum
span_call(FunctionCallInfo fcinfo, const SpanCallArgs *args)
{
	Datum		values[NS_NARGS];
	char		nulls[NS_NARGS];
	Datum		sent_times[2];
	char		sent_nulls[2];
	Datum		key;
	char		key_null;
	Datum		d;
	char	   *status;
	TimestampTz started;
	SpanAck		ack;
	void	   *scope;

	values[NS_ACCOUNT] = PfidPGetDatum(owning_account(PG_GETARG_DATUM(args->instance),
													  PG_ARGISNULL(args->instance), "instance"));
	nulls[NS_ACCOUNT] = ' ';
	require_span_type(PG_ARGISNULL(args->span_type));
	nulls[NS_INSTANCE] = get_arg(fcinfo, args->instance, &values[NS_INSTANCE]);
	nulls[NS_SPAN_TYPE] = get_arg(fcinfo, args->span_type, &values[NS_SPAN_TYPE]);
	nulls[NS_PAYLOAD] = get_arg(fcinfo, args->payload, &values[NS_PAYLOAD]);
	nulls[NS_RESULT] = get_arg(fcinfo, args->result, &values[NS_RESULT]);
	nulls[NS_PARENT] = get_arg(fcinfo, args->parent, &values[NS_PARENT]);
	/* a status left out takes the SQL default; one sent as NULL is refused */
	if (args->status >= 0 && PG_ARGISNULL(args->status))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null"),
				 errhint("Leave it out for %s, or send pending, active, complete, failed or cancelled.",
						 args->default_status)));
	status = get_arg(fcinfo, args->status, &d) == 'n' ? (char *) args->default_status : TextDatumGetCString(d);
	values[NS_STATUS] = CStringGetTextDatum(status);
	nulls[NS_STATUS] = ' ';

	/* times left out are the transaction's start; the request keeps them as sent */
	sent_nulls[0] = get_arg(fcinfo, args->started, &sent_times[0]);
	sent_nulls[1] = get_arg(fcinfo, args->finished, &sent_times[1]);
	started = sent_nulls[0] == 'n' ? GetCurrentTransactionStartTimestamp() : DatumGetTimestampTz(sent_times[0]);
	values[NS_STARTED] = TimestampTzGetDatum(started);
	nulls[NS_STARTED] = ' ';
	if (finished_status(status))
	{
		/* a time the caller sent is kept as sent (the guard judges it) */
		TimestampTz finished = sent_nulls[1] == 'n' ? Max(started, GetCurrentTransactionStartTimestamp())
			: DatumGetTimestampTz(sent_times[1]);

		values[NS_FINISHED] = TimestampTzGetDatum(finished);
		nulls[NS_FINISHED] = ' ';
	}
	else
	{
		values[NS_FINISHED] = (Datum) 0;
		nulls[NS_FINISHED] = 'n';
	}

	key_null = get_arg(fcinfo, args->key, &key);
	scope = prefactor_citus_scope_begin(DatumGetPfidP(values[NS_ACCOUNT]));
	ack = insert_span(args->operation, values, nulls, key, key_null == 'n', sent_times, sent_nulls);
	prefactor_citus_scope_end(scope);
	return ack_datum(fcinfo, &ack);
}

PG_FUNCTION_INFO_V1(prefactor_start_span);
Datum
prefactor_start_span(PG_FUNCTION_ARGS)
{
	return span_call(fcinfo, &start_span_args);
}

PG_FUNCTION_INFO_V1(prefactor_record_span);
Datum
prefactor_record_span(PG_FUNCTION_ARGS)
{
	return span_call(fcinfo, &record_span_args);
}

/*
 * Finishes a span through the table AM if it is still open: status, result
 * and finished_at (the time sent, else now, not before the span's start).
 * 1 when finished, 0 when there is no open span of that id, -1 when a
 * statement must do it (row_write.c says when). The arguments are those of
 * the finish statement.
 */
static int
finish_span_direct(const Datum *args, const char *arg_nulls)
{
	const SpansTable *t = spans();
	RowWrite	w;
	bool		isnull;
	bool		open = false;
	Datum		values[3] = {args[2], args[3], args[4]};
	bool		nulls[3] = {arg_nulls[2] == 'n', arg_nulls[3] == 'n', arg_nulls[4] == 'n'};
	int			finished = 0;
	int			attnums[3];

	if (!prefactor_row_write_begin(&w, t->relid, CMD_UPDATE))
		return -1;
	t = spans_written_in(w.rel);
	attnums[0] = t->arg[NS_STATUS];
	attnums[1] = t->arg[NS_RESULT];
	attnums[2] = t->arg[NS_FINISHED];
	if (prefactor_row_lock(&w, RelationGetPrimaryKeyIndex(w.rel), DatumGetPfidP(args[0]), DatumGetPfidP(args[1])))
	{
		Datum		status = slot_getattr(w.old, t->arg[NS_STATUS], &isnull);

		if (!isnull && prefactor_span_status(TextDatumGetCString(status), &open) && open)
		{
			if (nulls[2])
			{
				Datum		started = slot_getattr(w.old, t->arg[NS_STARTED], &isnull);

				values[2] = isnull ? args[6] :
					TimestampTzGetDatum(Max(DatumGetTimestampTz(started), DatumGetTimestampTz(args[6])));
				nulls[2] = false;
			}
			finished = prefactor_row_update(&w, 3, attnums, values, nulls) != NULL;
		}
	}
	prefactor_row_write_end(&w);
	return finished;
}

PG_FUNCTION_INFO_V1(prefactor_finish_span);
Datum
prefactor_finish_span(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr lookup_plan = NULL;
	static SPIPlanPtr update_plan = NULL;
	const Pfid *account = owning_account(PG_GETARG_DATUM(0), PG_ARGISNULL(0), "span");
	Oid			pf = prefactor_pfid_oid();
	Datum		span = PG_GETARG_DATUM(0);
	char	   *status = PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1));
	bool		key_null = PG_ARGISNULL(4);
	SpanAck		ack = {0};
	bool		isnull;
	Oid			types[7] = {pf, pf, TEXTOID, JSONBOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', status ? ' ' : 'n', PG_ARGISNULL(2) ? 'n' : ' ',
	PG_ARGISNULL(3) ? 'n' : ' ', key_null ? 'n' : ' ', ' '};
	char	   *span_status;
	RunState	run;
	Pfid		instance;
	int			finished;
	MemoryContext caller = CurrentMemoryContext;
	void	   *scope;

	values[0] = PfidPGetDatum(account);
	values[1] = span;
	values[2] = status ? CStringGetTextDatum(status) : (Datum) 0;
	values[3] = PG_ARGISNULL(2) ? (Datum) 0 : PG_GETARG_DATUM(2);
	values[4] = PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3);
	values[5] = key_null ? (Datum) 0 : PG_GETARG_DATUM(4);
	/* now(), passed as a value: Citus refuses a STABLE function in a COALESCE of an UPDATE */
	values[6] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());

	scope = prefactor_citus_scope_begin(account);
	SPI_connect();
	if (!key_null)
	{
		Datum		prior;

		prefactor_spi_execute(&claim_plan,
							  "SELECT prefactor.idempotency_claim($1, $6, 'finish_span', pg_catalog.jsonb_build_object("
							  "'span', $2, 'status', $3, 'result', $4, 'finished_at', $5))",
							  6, types, values, nulls, false, 1);
		prior = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
		{
			ack_from_jsonb(prior, &ack, caller);
			SPI_finish();
			prefactor_citus_scope_end(scope);
			return ack_datum(fcinfo, &ack);
		}
	}
	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null"),
				 errhint("Leave it out for complete, or send complete, failed or cancelled.")));
	if (!finished_status(status))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a span finishes as complete, failed or cancelled, not %s",
						status ? prefactor_excerpt(status) : "null")));

	ack.has_span = true;
	memcpy(&ack.span_id, DatumGetPfidP(span), sizeof(Pfid));

	/*
	 * Fast path: finish the span if it is still open. A finished, cancelled
	 * or terminated run has no open spans (finishing a run closes them, and a
	 * concurrent run finish either waits for this update or is seen by it).
	 */
	finished = finish_span_direct(values, nulls);
	if (finished < 0)
	{
		prefactor_spi_execute(&update_plan,
							  "UPDATE prefactor.spans s SET status = $3, result = $4,"
							  " finished_at = coalesce($5, greatest(s.started_at, $7))"
							  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2"
							  " AND s.status OPERATOR(pg_catalog.=) ANY (" PREFACTOR_OPEN_STATUSES ")",
							  7, types, values, nulls, false, 0);
		finished = SPI_processed == 1;
	}
	if (!finished)
	{
		/* why not: no such span, its run was terminated, or it is finished */
		prefactor_spi_execute(&lookup_plan,
							  "SELECT s.status, s.instance_id FROM prefactor.spans s"
							  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2",
							  2, types, values, nulls, false, 1);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("span %s does not exist", pfid_text(DatumGetPfidP(span)))));
		span_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		memcpy(&instance, DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)),
			   sizeof(Pfid));
		prefactor_lock_run(account, &instance, &run);
		if (strcmp(run.status, "terminated") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("span %s is already finished (%s)", pfid_text(DatumGetPfidP(span)), span_status),
					 errhint("Retry with the same idempotency key to get the first answer.")));
		ack.terminate = true;
		ack.reason = run.termination_reason;
	}
	if (ack.reason)
		ack.reason = MemoryContextStrdup(caller, ack.reason);
	if (!key_null)
		answer_key(account, values[5], &ack);
	SPI_finish();
	prefactor_citus_scope_end(scope);
	return ack_datum(fcinfo, &ack);
}
