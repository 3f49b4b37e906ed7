/*
 * run_api.c
 *	  The run start and end: prefactor_start_run (by account name or id),
 *	  prefactor_register_run, prefactor_finish_run, prefactor_terminate_run
 *	  and their shared bodies create_instance and end_instance, which the
 *	  SDK, token and OTLP calls use too. C like the span calls
 *	  (span_api.c): on a Citus worker holding the account (a delegated call,
 *	  or a client connected there) every query runs on the account's shards
 *	  in the shard scope (citus_compat.c) instead of being planned by Citus
 *	  twice, and on a plain node the run row is written through the table AM
 *	  (row_write.c) with its triggers, constraints and foreign keys.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "access/account_access.h"
#include "access/resolve.h"
#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/excerpt.h"
#include "core/row_write.h"
#include "guard/guard.h"

/* canonical_digest(jsonb) (src/core/canonical.c): the digest versions are matched by */
extern Datum prefactor_canonical_digest(PG_FUNCTION_ARGS);

/* The columns of instances a run start or end writes, in this order. */
enum
{
	RI_ACCOUNT, RI_AGENT, RI_VERSION, RI_SCHEMA_VERSION, RI_ENVIRONMENT, RI_PURPOSE, RI_STATUS,
	RI_STARTED, RI_REVISION, RI_RISK_SCORE, RI_RISK_LEVEL, RI_FINISHED, RI_REASON, RI_ID, RI_NCOLS
};

static const char *const instance_column_names[RI_NCOLS] = {
	"account_id", "agent_id", "version_id", "schema_version_id", "environment_id", "purpose", "status",
	"started_at", "risk_profile_revision_id", "risk_score", "risk_level", "finished_at",
	"termination_reason", "id"
};

/*
 * The instances table (found by name at each call: the backend has few
 * relcache callback slots, and Citus takes most) and its columns in the
 * descriptor of the opened relation.
 */
static Oid
instances_relid(void)
{
	Oid			relid = get_relname_relid("instances", get_namespace_oid("prefactor", false));

	if (!OidIsValid(relid))
		elog(ERROR, "relation prefactor.instances is missing");
	return relid;
}

static void
instance_columns(Relation rel, AttrNumber *att)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < RI_NCOLS; i++)
	{
		att[i] = InvalidAttrNumber;
		for (int a = 0; a < desc->natts; a++)
			if (!TupleDescAttr(desc, a)->attisdropped &&
				strcmp(NameStr(TupleDescAttr(desc, a)->attname), instance_column_names[i]) == 0)
				att[i] = a + 1;
		if (att[i] == InvalidAttrNumber)
			elog(ERROR, "column \"%s\" of prefactor.instances is missing", instance_column_names[i]);
	}
}

/* An argument's value and null flag (' ' or 'n'). */
static char
get_arg(FunctionCallInfo fcinfo, int argno, Datum *value)
{
	if (PG_ARGISNULL(argno))
	{
		*value = (Datum) 0;
		return 'n';
	}
	*value = PG_GETARG_DATUM(argno);
	return ' ';
}

static Datum
pfid_datum(const Pfid *id)
{
	Pfid	   *copy = palloc(sizeof(Pfid));

	memcpy(copy, id, sizeof(Pfid));
	return PfidPGetDatum(copy);
}

/* Copies the pfid in column col of the first SPI row into *id; false if none or NULL. */
static bool
spi_pfid(int col, Pfid *id)
{
	bool		isnull;
	Datum		d;

	if (SPI_processed < 1)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);
	if (isnull)
		return false;
	memcpy(id, DatumGetPfidP(d), sizeof(Pfid));
	return true;
}

/* Arguments of a run start, in the order of the claim and insert parameters. */
enum
{
	RS_ACCOUNT, RS_AGENT, RS_ENVIRONMENT, RS_VERSION, RS_SCHEMA, RS_PURPOSE, RS_STARTED, RS_KEY,
	RS_OPERATION, RS_NARGS
};

typedef struct RunStart
{
	const char *operation;		/* start_run or register_run */
	Pfid		account;
	Pfid		agent;
	Pfid		environment;
	Pfid		version;
	Pfid		schema_version;
	bool		has_revision;
	Pfid		revision;
	Datum		version_doc;	/* jsonb; 0 when left out */
	Datum		schema_doc;
	const char *purpose;
	Datum		started;		/* timestamptz; 0 when left out */
	Datum		key;			/* text; 0 without a key */
	const char *agent_name;		/* as sent, for messages */
} RunStart;

/* The agent's schema version and version of the run (what the client left out comes from what was recorded). */
static void
find_versions(RunStart *r)
{
	static SPIPlanPtr latest_version_plan = NULL;
	static SPIPlanPtr latest_of_metadata_plan = NULL;
	static SPIPlanPtr latest_schema_plan = NULL;
	static SPIPlanPtr schema_plan = NULL;
	static SPIPlanPtr version_plan = NULL;
	static SPIPlanPtr ensure_schema_plan = NULL;
	static SPIPlanPtr ensure_version_plan = NULL;
	Oid			pf = prefactor_pfid_oid();
	Oid			types[4] = {pf, pf, BYTEAOID, pf};
	Datum		values[4] = {PfidPGetDatum(&r->account), PfidPGetDatum(&r->agent), (Datum) 0, (Datum) 0};
	Datum		metadata = r->version_doc;
	bool		isnull;

	if (r->schema_doc == (Datum) 0)
	{
		/* the latest version (of this metadata, if sent) with its own schema version */
		if (metadata == (Datum) 0)
			prefactor_spi_execute_generic(&latest_version_plan,
										  "SELECT v.id, v.schema_version_id FROM prefactor.agent_versions v"
										  " WHERE v.account_id OPERATOR(prefactor.=) $1 AND v.agent_id OPERATOR(prefactor.=) $2"
										  " ORDER BY v.created_at DESC, v.id DESC LIMIT 1",
										  2, types, values, NULL, true, 1);
		else
		{
			values[2] = DirectFunctionCall1(prefactor_canonical_digest, metadata);
			prefactor_spi_execute_generic(&latest_of_metadata_plan,
										  "SELECT v.id, v.schema_version_id FROM prefactor.agent_versions v"
										  " WHERE v.account_id OPERATOR(prefactor.=) $1 AND v.agent_id OPERATOR(prefactor.=) $2"
										  " AND v.metadata_digest OPERATOR(pg_catalog.=) $3"
										  " ORDER BY v.created_at DESC, v.id DESC LIMIT 1",
										  3, types, values, NULL, true, 1);
		}
		if (spi_pfid(1, &r->version))
		{
			spi_pfid(2, &r->schema_version);
			return;
		}
		if (metadata == (Datum) 0)
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("agent \"%s\" has no version yet, so version and schema cannot be omitted",
							prefactor_excerpt(r->agent_name)),
					 errhint("Send the version and schema with the agent's first run.")));
		/* an unseen version without a schema: paired with the agent's latest schema version */
		prefactor_spi_execute_generic(&latest_schema_plan,
									  "SELECT s.id FROM prefactor.activity_schema_versions s"
									  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.agent_id OPERATOR(prefactor.=) $2"
									  " ORDER BY s.number DESC LIMIT 1",
									  2, types, values, NULL, true, 1);
		if (!spi_pfid(1, &r->schema_version))
			ereport(ERROR,
					(errcode(ERRCODE_NO_DATA_FOUND),
					 errmsg("agent \"%s\" has no schema version yet, so the schema cannot be omitted",
							prefactor_excerpt(r->agent_name)),
					 errhint("Send the schema with the agent's first run.")));
	}
	else
	{
		Oid			ensure_types[3] = {pf, pf, JSONBOID};

		/* the schema version of this content, created if unseen (ensure_schema_version) */
		values[2] = DirectFunctionCall1(prefactor_canonical_digest, r->schema_doc);
		prefactor_spi_execute_generic(&schema_plan,
									  "SELECT s.id FROM prefactor.activity_schema_versions s"
									  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.agent_id OPERATOR(prefactor.=) $2"
									  " AND s.content_digest OPERATOR(pg_catalog.=) $3",
									  3, types, values, NULL, true, 1);
		if (!spi_pfid(1, &r->schema_version))
		{
			values[2] = r->schema_doc;
			prefactor_spi_execute_generic(&ensure_schema_plan,
										  "SELECT prefactor.ensure_schema_version($1, $2, $3)",
										  3, ensure_types, values, NULL, false, 1);
			spi_pfid(1, &r->schema_version);
		}
		if (metadata == (Datum) 0)
		{
			/* the latest version's metadata, paired with the schema the client sent */
			static SPIPlanPtr latest_metadata_plan = NULL;

			prefactor_spi_execute_generic(&latest_metadata_plan,
										  "SELECT v.metadata FROM prefactor.agent_versions v"
										  " WHERE v.account_id OPERATOR(prefactor.=) $1 AND v.agent_id OPERATOR(prefactor.=) $2"
										  " ORDER BY v.created_at DESC, v.id DESC LIMIT 1",
										  2, types, values, NULL, true, 1);
			if (SPI_processed != 1)
				ereport(ERROR,
						(errcode(ERRCODE_NO_DATA_FOUND),
						 errmsg("agent \"%s\" has no version yet, so the version cannot be omitted",
								prefactor_excerpt(r->agent_name)),
						 errhint("Send the version with the agent's first run.")));
			metadata = PointerGetDatum(DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
																		 SPI_tuptable->tupdesc, 1, &isnull)));
		}
		/* the version of this metadata and schema version, created if unseen (ensure_version) */
		values[2] = DirectFunctionCall1(prefactor_canonical_digest, metadata);
		values[3] = PfidPGetDatum(&r->schema_version);
		prefactor_spi_execute_generic(&version_plan,
									  "SELECT v.id FROM prefactor.agent_versions v"
									  " WHERE v.account_id OPERATOR(prefactor.=) $1 AND v.agent_id OPERATOR(prefactor.=) $2"
									  " AND v.metadata_digest OPERATOR(pg_catalog.=) $3"
									  " AND v.schema_version_id OPERATOR(prefactor.=) $4",
									  4, types, values, NULL, true, 1);
		if (spi_pfid(1, &r->version))
			return;
	}
	{
		Oid			ensure_types[4] = {pf, pf, JSONBOID, pf};

		values[2] = metadata;
		values[3] = PfidPGetDatum(&r->schema_version);
		prefactor_spi_execute_generic(&ensure_version_plan,
									  "SELECT prefactor.ensure_version($1, $2, $3, $4)",
									  4, ensure_types, values, NULL, false, 1);
		spi_pfid(1, &r->version);
	}
}

/* The risk profile revision the run is scored under, if the agent has a live profile. */
static void
find_revision(RunStart *r)
{
	static SPIPlanPtr plan = NULL;
	Oid			pf = prefactor_pfid_oid();
	Oid			types[2] = {pf, pf};
	Datum		values[2] = {PfidPGetDatum(&r->account), PfidPGetDatum(&r->agent)};

	prefactor_spi_execute_generic(&plan,
								  "SELECT r.id FROM prefactor.agents g"
								  " JOIN prefactor.risk_profiles p ON p.account_id OPERATOR(prefactor.=) g.account_id"
								  "  AND p.id OPERATOR(prefactor.=) g.risk_profile_id"
								  " JOIN prefactor.risk_profile_revisions r ON r.account_id OPERATOR(prefactor.=) p.account_id"
								  "  AND r.risk_profile_id OPERATOR(prefactor.=) p.id"
								  " WHERE g.account_id OPERATOR(prefactor.=) $1 AND g.id OPERATOR(prefactor.=) $2"
								  " AND p.deleted_at IS NULL"
								  " ORDER BY r.revision DESC LIMIT 1",
								  2, types, values, NULL, true, 1);
	r->has_revision = spi_pfid(1, &r->revision);
}

/* Stores the run row; returns its id. Through the table AM where it may, else a statement. */
static void
insert_run(const RunStart *r, Pfid *id)
{
	static SPIPlanPtr plan = NULL;
	bool		start = strcmp(r->operation, "start_run") == 0;
	Datum		v[RI_NCOLS];
	char		n[RI_NCOLS];
	RowWrite	w;

	memset(n, 'n', sizeof(n));
	v[RI_ACCOUNT] = PfidPGetDatum(&r->account);
	v[RI_AGENT] = PfidPGetDatum(&r->agent);
	v[RI_VERSION] = PfidPGetDatum(&r->version);
	v[RI_SCHEMA_VERSION] = PfidPGetDatum(&r->schema_version);
	v[RI_ENVIRONMENT] = PfidPGetDatum(&r->environment);
	v[RI_PURPOSE] = CStringGetTextDatum(r->purpose);
	v[RI_STATUS] = CStringGetTextDatum(start ? "active" : "pending");
	v[RI_STARTED] = r->started ? r->started : TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	v[RI_REVISION] = PfidPGetDatum(&r->revision);
	v[RI_RISK_SCORE] = NumericGetDatum(int64_to_numeric(0));
	v[RI_RISK_LEVEL] = CStringGetTextDatum("low");
	for (int i = RI_ACCOUNT; i <= RI_PURPOSE; i++)
		n[i] = ' ';
	n[RI_STATUS] = ' ';
	if (start)
		n[RI_STARTED] = ' ';
	if (r->has_revision)
		n[RI_REVISION] = n[RI_RISK_SCORE] = n[RI_RISK_LEVEL] = ' ';

	if (prefactor_row_write_begin(&w, instances_relid(), CMD_INSERT))
	{
		int			natts = RelationGetDescr(w.rel)->natts;
		AttrNumber	att[RI_NCOLS];
		Datum	   *values = palloc0(sizeof(Datum) * natts);
		bool	   *nulls = palloc0(sizeof(bool) * natts);
		bool	   *given = palloc0(sizeof(bool) * natts);
		TupleTableSlot *row;
		bool		isnull;

		instance_columns(w.rel, att);
		v[RI_RISK_LEVEL] = DirectFunctionCall2(enum_in, CStringGetDatum("low"),
											   ObjectIdGetDatum(TupleDescAttr(RelationGetDescr(w.rel),
																			  att[RI_RISK_LEVEL] - 1)->atttypid));
		for (int i = 0; i <= RI_RISK_LEVEL; i++)
		{
			given[att[i] - 1] = true;
			values[att[i] - 1] = v[i];
			nulls[att[i] - 1] = n[i] == 'n';
		}
		row = prefactor_row_insert(&w, values, nulls, given);
		if (row == NULL)
			elog(ERROR, "a trigger skipped the insert of the run");
		memcpy(id, DatumGetPfidP(slot_getattr(row, att[RI_ID], &isnull)), sizeof(Pfid));
		prefactor_row_write_end(&w);
		return;
	}
	{
		Oid			pf = prefactor_pfid_oid();
		Oid			types[RI_RISK_LEVEL + 1] = {pf, pf, pf, pf, pf, TEXTOID, TEXTOID, TIMESTAMPTZOID, pf,
		NUMERICOID, TEXTOID};

		prefactor_spi_execute_generic(&plan,
									  "INSERT INTO prefactor.instances (account_id, agent_id, version_id, schema_version_id,"
									  " environment_id, purpose, status, started_at, risk_profile_revision_id, risk_score,"
									  " risk_level)"
									  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::prefactor.risk_level)"
									  " RETURNING id",
									  RI_RISK_LEVEL + 1, types, v, n, false, 0);
		if (!spi_pfid(1, id))
			elog(ERROR, "a trigger skipped the insert of the run");
	}
}

/*
 * The shared body of the run starts: registers a run as pending
 * (register_run) or starts it (start_run). args: the RS_ arguments as
 * Datums with their null flags (account and agent, environment, purpose,
 * key as text).
 */
static Datum
create_instance(const char *operation, const char *account, const Datum *args, const char *nulls)
{
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr answer_plan = NULL;
	RunStart	r;
	Pfid		guess;
	Pfid		id;
	void	   *scope = NULL;
	bool		scoped = false;
	MemoryContext caller = CurrentMemoryContext;

	/* each lookup sees what committed before the call, as a statement would */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	memset(&r, 0, sizeof(r));
	r.operation = operation;
	r.agent_name = nulls[RS_AGENT] == 'n' ? NULL : TextDatumGetCString(args[RS_AGENT]);
	r.version_doc = nulls[RS_VERSION] == 'n' ? (Datum) 0 : args[RS_VERSION];
	r.schema_doc = nulls[RS_SCHEMA] == 'n' ? (Datum) 0 : args[RS_SCHEMA];
	r.purpose = nulls[RS_PURPOSE] == 'n' ? NULL : TextDatumGetCString(args[RS_PURPOSE]);
	r.started = nulls[RS_STARTED] == 'n' ? (Datum) 0 : args[RS_STARTED];
	r.key = nulls[RS_KEY] == 'n' ? (Datum) 0 : args[RS_KEY];

	/*
	 * An account named by its id: its shard scope first, so that on the
	 * worker holding it even the lookups run on its shards.
	 */
	if (account != NULL && pfid_try_parse(account, strlen(account), &guess))
	{
		scope = prefactor_citus_scope_begin(&guess);
		scoped = true;
	}
	prefactor_resolve_account(account, "ingest", &r.account);
	if (!scoped || memcmp(guess.data, r.account.data, PFID_LEN) != 0)
	{
		if (scoped)
			prefactor_citus_scope_end(scope);
		scope = prefactor_citus_scope_begin(&r.account);
	}
	prefactor_resolve_agent(&r.account, r.agent_name, &r.agent);
	prefactor_resolve_environment(&r.account, nulls[RS_ENVIRONMENT] == 'n' ? NULL :
								  TextDatumGetCString(args[RS_ENVIRONMENT]), &r.environment);

	SPI_connect();
	if (r.key)
	{
		Oid			pf = prefactor_pfid_oid();
		Oid			types[RS_NARGS] = {pf, pf, pf, JSONBOID, JSONBOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
		Datum		values[RS_NARGS];
		char		claim_nulls[RS_NARGS];

		memcpy(values, args, sizeof(values));
		memcpy(claim_nulls, nulls, sizeof(claim_nulls));
		claim_nulls[RS_ACCOUNT] = claim_nulls[RS_AGENT] = claim_nulls[RS_ENVIRONMENT] = ' ';
		values[RS_ACCOUNT] = PfidPGetDatum(&r.account);
		values[RS_AGENT] = PfidPGetDatum(&r.agent);
		values[RS_ENVIRONMENT] = PfidPGetDatum(&r.environment);
		values[RS_OPERATION] = CStringGetTextDatum(operation);
		prefactor_spi_execute_generic(&claim_plan,
									  "SELECT (prefactor.idempotency_claim($1, $8, $9, pg_catalog.jsonb_build_object("
									  "'agent', $2, 'environment', $3, 'version', $4, 'schema', $5, 'purpose', $6,"
									  " 'started_at', $7)) OPERATOR(pg_catalog.->>) 'instance_id')::prefactor.pfid",
									  RS_NARGS, types, values, claim_nulls, false, 1);
		if (spi_pfid(1, &id))
		{
			SPI_finish();
			PopActiveSnapshot();
			prefactor_citus_scope_end(scope);
			return pfid_datum(&id);
		}
	}
	if (r.purpose == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("purpose must not be null"),
				 errhint("Leave it out for live, or send live, smoke_test or eval.")));
	if (strcmp(r.purpose, "live") != 0 && strcmp(r.purpose, "smoke_test") != 0 && strcmp(r.purpose, "eval") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must be live, smoke_test or eval, not %s", prefactor_excerpt(r.purpose))));

	find_versions(&r);
	find_revision(&r);
	insert_run(&r, &id);

	if (r.key)
	{
		Oid			types[3] = {prefactor_pfid_oid(), TEXTOID, prefactor_pfid_oid()};
		Datum		values[3] = {PfidPGetDatum(&r.account), r.key, PfidPGetDatum(&id)};

		prefactor_spi_execute_generic(&answer_plan,
									  "SELECT prefactor.idempotency_answer($1, $2, pg_catalog.jsonb_build_object('instance_id', $3))",
									  3, types, values, NULL, false, 1);
	}
	SPI_finish();
	PopActiveSnapshot();
	prefactor_citus_scope_end(scope);
	{
		Pfid	   *result = MemoryContextAlloc(caller, sizeof(Pfid));

		memcpy(result, &id, sizeof(Pfid));
		return PfidPGetDatum(result);
	}
}

/*
 * A run start's arguments from fcinfo: account at argument first, then
 * agent, environment, version, schema, purpose, idempotency key and (when
 * has_started) started_at.
 */
static Datum
run_start_call(FunctionCallInfo fcinfo, const char *operation, int first, bool by_id, bool has_started)
{
	Datum		args[RS_NARGS];
	char		nulls[RS_NARGS];
	const char *account = NULL;
	const int	order[] = {RS_AGENT, RS_ENVIRONMENT, RS_VERSION, RS_SCHEMA, RS_PURPOSE, RS_KEY, RS_STARTED};

	if (!PG_ARGISNULL(first))
		account = by_id ? pfid_text(PG_GETARG_PFID_P(first)) : TextDatumGetCString(PG_GETARG_DATUM(first));
	args[RS_ACCOUNT] = (Datum) 0;
	nulls[RS_ACCOUNT] = 'n';
	for (int i = 0; i < lengthof(order); i++)
	{
		if (order[i] == RS_STARTED && !has_started)
		{
			args[RS_STARTED] = (Datum) 0;
			nulls[RS_STARTED] = 'n';
		}
		else
			nulls[order[i]] = get_arg(fcinfo, first + 1 + i, &args[order[i]]);
	}
	args[RS_OPERATION] = (Datum) 0;
	nulls[RS_OPERATION] = ' ';
	return create_instance(operation, account, args, nulls);
}

/* create_instance(operation, account, agent, environment, version, schema, purpose, key, started_at) */
PG_FUNCTION_INFO_V1(prefactor_create_instance);
Datum
prefactor_create_instance(PG_FUNCTION_ARGS)
{
	char	   *operation = PG_ARGISNULL(0) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(0));

	if (operation == NULL || (strcmp(operation, "start_run") != 0 && strcmp(operation, "register_run") != 0))
		elog(ERROR, "create_instance starts or registers a run, not %s", operation ? operation : "null");
	return run_start_call(fcinfo, operation, 1, false, true);
}

/* prefactor_start_run(account text, ...) */
PG_FUNCTION_INFO_V1(prefactor_start_run);
Datum
prefactor_start_run(PG_FUNCTION_ARGS)
{
	return run_start_call(fcinfo, "start_run", 0, false, true);
}

/* prefactor_start_run(account pfid, ...): the same, naming the account by id */
PG_FUNCTION_INFO_V1(prefactor_start_run_by_id);
Datum
prefactor_start_run_by_id(PG_FUNCTION_ARGS)
{
	return run_start_call(fcinfo, "start_run", 0, true, true);
}

/* prefactor_register_run(account text, ...) */
PG_FUNCTION_INFO_V1(prefactor_register_run);
Datum
prefactor_register_run(PG_FUNCTION_ARGS)
{
	return run_start_call(fcinfo, "register_run", 0, false, false);
}

/* Whether a run may end with this status (terminated only through prefactor_terminate_run). */
static bool
final_run_status(const char *status)
{
	bool		open;

	return prefactor_run_status(status, &open) && !open;
}

/*
 * The shared body of the run ends: cancels the run's unfinished spans (its
 * guard does, src/guard/run_guard.c), then sets the final status.
 */
static Datum
end_instance(const char *operation, Datum instance_arg, bool instance_null, const char *status,
			 Datum finished_arg, bool finished_null, const char *reason, Datum key, bool key_null)
{
	static SPIPlanPtr claim_plan = NULL;
	static SPIPlanPtr answer_plan = NULL;
	static SPIPlanPtr update_plan = NULL;
	const Pfid *account = prefactor_owning_account(instance_null ? NULL : DatumGetPfidP(instance_arg),
												   "instance", "ingest");
	const Pfid *instance = DatumGetPfidP(instance_arg);
	Oid			pf = prefactor_pfid_oid();
	Oid			types[7] = {pf, pf, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', status ? ' ' : 'n', finished_null ? 'n' : ' ', reason ? ' ' : 'n',
	key_null ? 'n' : ' ', ' '};
	RunState	run;
	TimestampTz finish_time;
	void	   *scope;
	char	   *answer = NULL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = PfidPGetDatum(account);
	values[1] = instance_arg;
	values[2] = status ? CStringGetTextDatum(status) : (Datum) 0;
	values[3] = finished_arg;
	values[4] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	values[5] = key;
	values[6] = CStringGetTextDatum(operation);

	scope = prefactor_citus_scope_begin(account);
	SPI_connect();
	if (!key_null)
	{
		prefactor_spi_execute_generic(&claim_plan,
									  "SELECT prefactor.idempotency_claim($1, $6, $7, pg_catalog.jsonb_build_object("
									  "'instance', $2, 'status', $3, 'finished_at', $4, 'reason', $5))"
									  " OPERATOR(pg_catalog.->>) 'status'",
									  7, types, values, nulls, false, 1);
		answer = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (answer != NULL)
		{
			answer = MemoryContextStrdup(caller, answer);
			SPI_finish();
			prefactor_citus_scope_end(scope);
			return CStringGetTextDatum(answer);
		}
	}
	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("status must not be null"),
				 errhint("Leave it out for complete, or send complete, failed or cancelled.")));
	if (!final_run_status(status))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a run finishes as complete, failed or cancelled, not %s", prefactor_excerpt(status))));

	/* waits for spans being written to this run, and makes later ones wait for us */
	prefactor_lock_run(account, instance, &run);

	/*
	 * What follows sees what committed while we waited (as a statement
	 * after the lock would): the spans stored meanwhile are closed by the
	 * finish. The run guard's queries read this snapshot too.
	 */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!prefactor_status_open(run.status))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("instance %s is already finished (%s)", pfid_text(instance), run.status),
				 errhint("A finished run cannot change; retry with the same idempotency key to get the first answer.")));
	if (strcmp(run.status, "pending") == 0 && strcmp(status, "cancelled") != 0 && strcmp(status, "terminated") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("instance %s has not started, so it can only be cancelled", pfid_text(instance)),
				 errhint("Start it with prefactor.prefactor_begin_run() first.")));

	/*
	 * A finish time the caller left out is taken once the lock is held, and
	 * never precedes the run's start or an open span's start; a caller's
	 * time is kept as sent (the guard refuses one before an open span's
	 * start). The guard closes the open spans at this time.
	 */
	if (!finished_null)
		finish_time = DatumGetTimestampTz(finished_arg);
	else
	{
		TimestampTz latest;

		finish_time = Max(GetCurrentTimestamp(), run.started_at);
		if (prefactor_open_spans_latest_start(account, instance, &latest))
			finish_time = Max(finish_time, latest);
	}

	{
		RowWrite	w;
		Datum		row_values[4] = {values[2], TimestampTzGetDatum(finish_time), TimestampTzGetDatum(finish_time),
		values[4]};
		bool		row_nulls[4] = {false, false, false, reason == NULL};

		if (prefactor_row_write_begin(&w, instances_relid(), CMD_UPDATE))
		{
			bool		isnull;
			AttrNumber	att[RI_NCOLS];
			int			cols[4];

			instance_columns(w.rel, att);
			cols[0] = att[RI_STATUS];
			cols[1] = att[RI_STARTED];
			cols[2] = att[RI_FINISHED];
			cols[3] = att[RI_REASON];

			if (!prefactor_row_lock(&w, RelationGetPrimaryKeyIndex(w.rel), account, instance))
				elog(ERROR, "run %s vanished under its lock", pfid_text(instance));
			/* a pending run that ends starts at its end */
			(void) slot_getattr(w.old, att[RI_STARTED], &isnull);
			if (!isnull)
				row_values[1] = slot_getattr(w.old, att[RI_STARTED], &isnull);
			if (prefactor_row_update(&w, 4, cols, row_values, row_nulls) == NULL)
				elog(ERROR, "a trigger skipped the update of run %s", pfid_text(instance));
			prefactor_row_write_end(&w);
		}
		else
		{
			Oid			update_types[5] = {pf, pf, TEXTOID, TIMESTAMPTZOID, TEXTOID};
			Datum		update_values[5] = {values[0], values[1], values[2], TimestampTzGetDatum(finish_time),
			values[4]};
			char		update_nulls[5] = {' ', ' ', ' ', ' ', reason ? ' ' : 'n'};

			prefactor_spi_execute_generic(&update_plan,
										  "UPDATE prefactor.instances i SET status = $3,"
										  " started_at = coalesce(i.started_at, $4), finished_at = $4,"
										  " termination_reason = $5"
										  " WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2",
										  5, update_types, update_values, update_nulls, false, 0);
		}
	}
	if (!key_null)
		prefactor_spi_execute_generic(&answer_plan,
									  "SELECT prefactor.idempotency_answer($1, $6, pg_catalog.jsonb_build_object('status', $3))",
									  7, types, values, nulls, false, 1);
	PopActiveSnapshot();
	SPI_finish();
	prefactor_citus_scope_end(scope);
	return CStringGetTextDatum(status);
}

/* end_instance(operation, instance, status, finished_at, reason, idempotency_key) */
PG_FUNCTION_INFO_V1(prefactor_end_instance);
Datum
prefactor_end_instance(PG_FUNCTION_ARGS)
{
	char	   *operation = PG_ARGISNULL(0) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(0));

	if (operation == NULL || (strcmp(operation, "finish_run") != 0 && strcmp(operation, "terminate_run") != 0))
		elog(ERROR, "end_instance finishes or terminates a run, not %s", operation ? operation : "null");
	return end_instance(operation, PG_GETARG_DATUM(1), PG_ARGISNULL(1),
						PG_ARGISNULL(2) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(2)),
						PG_GETARG_DATUM(3), PG_ARGISNULL(3),
						PG_ARGISNULL(4) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(4)),
						PG_GETARG_DATUM(5), PG_ARGISNULL(5));
}

/* prefactor_finish_run(instance, status, finished_at, idempotency_key) */
PG_FUNCTION_INFO_V1(prefactor_finish_run);
Datum
prefactor_finish_run(PG_FUNCTION_ARGS)
{
	char	   *status = PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1));

	if (status && strcmp(status, "terminated") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("use prefactor_terminate_run to terminate a run")));
	return end_instance("finish_run", PG_GETARG_DATUM(0), PG_ARGISNULL(0), status,
						PG_GETARG_DATUM(2), PG_ARGISNULL(2), NULL, PG_GETARG_DATUM(3), PG_ARGISNULL(3));
}

/* prefactor_terminate_run(instance, reason, idempotency_key) */
PG_FUNCTION_INFO_V1(prefactor_terminate_run);
Datum
prefactor_terminate_run(PG_FUNCTION_ARGS)
{
	char	   *reason = PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1));
	bool		blank = true;

	for (const char *p = reason; p && *p; p++)
		if (*p != ' ')
			blank = false;
	if (blank)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a termination needs a reason")));
	return end_instance("terminate_run", PG_GETARG_DATUM(0), PG_ARGISNULL(0), "terminated",
						(Datum) 0, true, reason, PG_GETARG_DATUM(2), PG_ARGISNULL(2));
}
