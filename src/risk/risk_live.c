/*
 * risk_live.c
 *	  Live risk scoring of spans, called by the span guard (BEFORE INSERT)
 *	  under the run's row lock. A span's total is the run's score after it:
 *	  the previous span's total plus the points of this span's type under
 *	  the run's profile revision. It is stored on the span, so a span costs
 *	  its own row and index entries, not a write to its run. Only a span that
 *	  raises the run's level or data classification writes the run row, at
 *	  once (a bulk INSERT's next span sees it): it stores the score,
 *	  classification and level, notifies channel prefactor_risk when the
 *	  level rises, and terminates the run when its profile's
 *	  terminate_at_level is reached. A finishing run takes its final total
 *	  (src/guard/run_guard.c).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/index_read.h"
#include "core/row_write.h"
#include "guard/guard.h"
#include "risk/risk.h"

#define RISK_CHANNEL			"prefactor_risk"

/* The spans table's risk_total column, found once per relation. */
static Oid	spans_relid = InvalidOid;
static int	att_total;

/* The index spans_run_risk_total of a spans table, and its pfid equality function. */
static Oid	total_index_of = InvalidOid;	/* the spans table it was found for */
static Oid	total_index = InvalidOid;

static SPIPlanPtr plan_raise = NULL;

/* The installation the plan and index were found for. */
static InstallationWatch live_watch = INSTALLATION_WATCH_INIT;

/* Forgets the saved plan and the index found for another installation. */
static void relation_changed(Datum arg, Oid relid);

static void
risk_live_check(void)
{
	if (!prefactor_installation_changed(&live_watch))
		return;
	/* the first call finds the installation changed too (the watch starts stale) */
	prefactor_on_relcache_invalidation(relation_changed, (Datum) 0);
	if (plan_raise)
		SPI_freeplan(plan_raise);
	plan_raise = NULL;
	spans_relid = total_index_of = total_index = InvalidOid;
}

/* Finds the risk_total column of a spans table, once per relation. */
static void
risk_live_attnums(Relation rel)
{
	if (RelationGetRelid(rel) == spans_relid)
		return;
	att_total = SPI_fnumber(RelationGetDescr(rel), "risk_total");
	if (att_total <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" is not a spans table", RelationGetRelationName(rel)),
				 errdetail("Live risk scoring needs its risk_total column.")));
	spans_relid = RelationGetRelid(rel);
}

/*
 * Prepare and keep one plan, generic from the start: with its parameters
 * known, the raise's CASE arms fold away and a custom plan always looks
 * cheaper, so the plan cache would plan the UPDATE again on every raise.
 */
static SPIPlanPtr
risk_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not prepare risk scoring statement: %s",
						SPI_result_code_string(SPI_result))));
	SPI_keepplan(plan);
	return plan;
}

/*
 * The alert of a level rise, on channel prefactor_risk: one payload format
 * for the span guard (single node) and the API call on a Citus coordinator
 * (src/risk/risk_alert.c).
 */
void
risk_notify_level_rise(const char *account_name, const char *agent_name, const Pfid *instance,
					   const char *score_text, const char *level_name, bool terminated)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"account\": ");
	escape_json(&payload, account_name ? account_name : "");
	appendStringInfoString(&payload, ", \"agent\": ");
	escape_json(&payload, agent_name ? agent_name : "");
	appendStringInfoString(&payload, ", \"instance\": ");
	escape_json(&payload, pfid_text(instance));
	appendStringInfo(&payload, ", \"score\": %s, \"level\": \"%s\", \"terminated\": %s}",
					 score_text, level_name, terminated ? "true" : "false");
	risk_alert_send(RISK_CHANNEL, payload.data);
}

/* The instances columns a raise writes through the table AM, found once per table. */
enum
{
	RAISE_SCORE, RAISE_CLASSIFICATION, RAISE_LEVEL, RAISE_STATUS, RAISE_FINISHED, RAISE_REASON, RAISE_AGENT,
	RAISE_NCOLUMNS
};
static const char *const raise_column_names[RAISE_NCOLUMNS] = {
	"risk_score", "max_classification", "risk_level", "status", "finished_at", "termination_reason", "agent_id"
};
static Oid	raise_columns_of = InvalidOid;
static int	raise_column[RAISE_NCOLUMNS];

/*
 * Column numbers and the index are found again after their relation (the
 * table or, on Citus, a shard of it) changes.
 */
static void
relation_changed(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == raise_columns_of)
		raise_columns_of = InvalidOid;
	if (relid == InvalidOid || relid == spans_relid)
		spans_relid = InvalidOid;
	if (relid == InvalidOid || relid == total_index_of)
		total_index_of = InvalidOid;
}

/* What a raise writes to the run row. */
typedef struct RunRaise
{
	Numeric		total;
	const char *classification; /* NULL: the run's stays */
	const char *level;			/* NULL: the run's stays */
	bool		terminate;
	TimestampTz finished_at;	/* when terminated */
	const char *reason;			/* when terminated */
} RunRaise;

/* An enum label as a value of the enum type of a column. */
static Datum
enum_value(Relation rel, AttrNumber attnum, const char *label)
{
	return DirectFunctionCall2(enum_in, CStringGetDatum(label),
							   ObjectIdGetDatum(TupleDescAttr(RelationGetDescr(rel), attnum - 1)->atttypid));
}

/*
 * Writes a raise through the table AM (src/core/row_write.c), starting
 * from the version the guard locked: the run row's triggers, indexes and
 * foreign keys apply as for the UPDATE, but no statement is planned,
 * started and ended. False when a statement must write it (Citus, repeatable
 * read, statement triggers: see row_write.c; or the run row changed since
 * it was locked).
 */
static bool
raise_write_direct(Relation spans, const Pfid *account, const Pfid *instance, const RunState *run,
				   const RunRaise *raise, TimestampTz *finished_at, Pfid *agent)
{
	RowWrite	w;
	Oid			relid;
	TupleTableSlot *row;
	int			attnums[RAISE_NCOLUMNS];
	Datum		values[RAISE_NCOLUMNS];
	bool		nulls[RAISE_NCOLUMNS];
	int			n = 0;
	bool		isnull;
	ItemPointerData tid;
	bool		keys_checked;

	if (!ItemPointerIsValid(&run->tid))
		return false;			/* locked by a query: Citus outside a shard scope, or repeatable read */
	/* the relation the run was locked in: the runs table, or on Citus its shard here */
	relid = run->relid;
	if (!OidIsValid(relid) || !prefactor_row_write_begin(&w, relid, CMD_UPDATE))
		return false;
	if (raise_columns_of != relid)
	{
		for (int i = 0; i < RAISE_NCOLUMNS; i++)
			raise_column[i] = attnameAttNum(w.rel, raise_column_names[i], false);
		raise_columns_of = relid;
	}
	if (!prefactor_row_lock_at(&w, (ItemPointer) &run->tid))
	{
		prefactor_row_write_end(&w);
		return false;
	}
	/* a raise sets no key column: after this subtransaction's own raise, the keys need no new check */
	w.keys_checked = run->keys_checked && ItemPointerEquals(&w.old->tts_tid, (ItemPointer) &run->tid);
	attnums[n] = raise_column[RAISE_SCORE];
	values[n] = NumericGetDatum(raise->total);
	nulls[n++] = false;
	if (raise->classification)
	{
		attnums[n] = raise_column[RAISE_CLASSIFICATION];
		values[n] = enum_value(w.rel, attnums[n], raise->classification);
		nulls[n++] = false;
	}
	if (raise->level)
	{
		attnums[n] = raise_column[RAISE_LEVEL];
		values[n] = enum_value(w.rel, attnums[n], raise->level);
		nulls[n++] = false;
	}
	if (raise->terminate)
	{
		attnums[n] = raise_column[RAISE_STATUS];
		values[n] = CStringGetTextDatum("terminated");
		nulls[n++] = false;
		attnums[n] = raise_column[RAISE_FINISHED];
		values[n] = TimestampTzGetDatum(raise->finished_at);
		nulls[n++] = false;
		attnums[n] = raise_column[RAISE_REASON];
		values[n] = CStringGetTextDatum(raise->reason);
		nulls[n++] = false;
	}
	row = prefactor_row_update(&w, n, attnums, values, nulls);
	if (row == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("could not store the risk of run %s", pfid_text(instance)),
				 errdetail("A BEFORE UPDATE trigger on prefactor.instances skipped the update.")));
	if (raise->terminate)
		*finished_at = DatumGetTimestampTz(slot_getattr(row, raise_column[RAISE_FINISHED], &isnull));
	memcpy(agent, DatumGetPfidP(slot_getattr(row, raise_column[RAISE_AGENT], &isnull)), sizeof(Pfid));
	tid = row->tts_tid;
	/* its keys are checked at the write's end (unless deferred): a failed check ends the subtransaction */
	keys_checked = prefactor_row_keys_checked_at_end(w.rel);
	prefactor_run_row_moved(w.rel, account, instance, &tid, keys_checked);
	prefactor_row_write_end(&w);
	return true;
}

/*
 * Writes a raise by a statement (see raise_write_direct for when). The
 * statement keeps the shape Citus runs on a shard (a CASE on a boolean
 * parameter, greatest() of the stored and the new value).
 */
static void
raise_write_statement(const Pfid *account, const Pfid *instance, const RunRaise *raise, int level,
					  TimestampTz *finished_at, Pfid *agent)
{
	Datum		args[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	int			citus_nest;
	int			rc;

	if (plan_raise == NULL)
	{
		Oid			pfid = prefactor_pfid_oid();
		Oid			argtypes[8] = {pfid, pfid, NUMERICOID, TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, TEXTOID};

		plan_raise = risk_prepare("UPDATE prefactor.instances i SET risk_score = $3,"
								  " max_classification = greatest(i.max_classification, $4::prefactor.data_classification),"
								  " risk_level = greatest(i.risk_level, $5::prefactor.risk_level),"
								  " status = CASE WHEN $6 THEN 'terminated' ELSE i.status END,"
								  " finished_at = CASE WHEN $6 THEN $7 ELSE i.finished_at END,"
								  " termination_reason = CASE WHEN $6 THEN $8 ELSE i.termination_reason END"
								  " WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2"
								  " RETURNING i.finished_at, i.agent_id",
								  8, argtypes);
	}
	args[0] = PfidPGetDatum(account);
	args[1] = PfidPGetDatum(instance);
	args[2] = NumericGetDatum(raise->total);
	args[3] = raise->classification ? CStringGetTextDatum(raise->classification) : (Datum) 0;
	nulls[3] = raise->classification ? ' ' : 'n';
	args[4] = CStringGetTextDatum(risk_level_names[level]);
	args[5] = BoolGetDatum(raise->terminate);
	args[6] = TimestampTzGetDatum(raise->finished_at);
	nulls[6] = raise->terminate ? ' ' : 'n';
	args[7] = raise->terminate ? CStringGetTextDatum(raise->reason) : (Datum) 0;
	nulls[7] = raise->terminate ? ' ' : 'n';
	citus_nest = prefactor_citus_local_begin();
	rc = SPI_execute_plan(prefactor_citus_scoped_saved(&plan_raise), args, nulls, false, 1);
	prefactor_citus_local_end(citus_nest);
	if (rc != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not store the risk of run %s", pfid_text(instance))));
	if (raise->terminate)
		*finished_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	memcpy(agent, DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)),
		   sizeof(Pfid));
}

/*
 * The name column of the row with this primary key, NULL if there is none:
 * read through the index, as the run lock reads the run (no planned query).
 */
static char *
name_by_key(Oid relid, const Pfid *first, const Pfid *second)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	char	   *name = NULL;
	bool		isnull;

	if (prefactor_index_first(rel, RelationGetPrimaryKeyIndex(rel), first, second, ForwardScanDirection, NULL,
							  slot))
	{
		Datum		d = slot_getattr(slot, attnameAttNum(rel, "name", false), &isnull);

		if (!isnull)
			name = TextDatumGetCString(d);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, AccessShareLock);
	return name;
}

/*
 * The account's and the agent's names for a rise's alert. The guard checked
 * that the role may store spans in the account. Read through the primary
 * keys (on Citus, of the account's shards here); by a query on Citus
 * outside the account's shard scope.
 */
static void
alert_names(Relation spans, const Pfid *account, const Pfid *agent, char **account_name, char **agent_name)
{
	static SPIPlanPtr plan_names = NULL;
	Oid			name_types[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};
	Datum		name_args[2];
	/* on Citus, their shards here in the account's shard scope */
	Oid			accounts = prefactor_citus_local_relid(get_relname_relid("accounts", RelationGetNamespace(spans)));
	Oid			agents = prefactor_citus_local_relid(get_relname_relid("agents", RelationGetNamespace(spans)));

	if (OidIsValid(accounts) && OidIsValid(agents))
	{
		*account_name = name_by_key(accounts, account, NULL);
		*agent_name = name_by_key(agents, account, agent);
		return;
	}
	/* asked separately: one account's rows (co-located on Citus) */
	name_args[0] = PfidPGetDatum(account);
	name_args[1] = PfidPGetDatum(agent);
	prefactor_spi_execute(&plan_names,
						  "SELECT a.name, g.name FROM prefactor.accounts a, prefactor.agents g"
						  " WHERE a.account_id OPERATOR(prefactor.=) $1 AND g.account_id OPERATOR(prefactor.=) $1"
						  " AND g.id OPERATOR(prefactor.=) $2",
						  2, name_types, name_args, NULL, true, 1);
	*account_name = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
	*agent_name = SPI_processed == 1 ? SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2) : NULL;
}

/*
 * Writes a raise to the run row (locked by the guard, state in run): score,
 * classification and level, and when the level reaches the profile's
 * terminate_at_level, the termination (the run guard closes its open
 * spans). Notifies when the level rose. Returns whether the run was
 * terminated, and when.
 */
static bool
raise_run(Relation spans, const Pfid *account, const Pfid *instance, const RunState *run,
		  TimestampTz started_at, const RiskRevisionInfo *rev, const RiskTypeInfo *info, Numeric total,
		  int level, TimestampTz *finished_at, bool notify)
{
	bool		rose = level > run->risk_level;
	char	   *score_text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(total)));
	RunRaise	raise = {0};
	Pfid		agent;

	raise.total = total;
	raise.classification = info->classification > run->max_classification ? info->classification_name : NULL;
	raise.level = rose ? risk_level_names[level] : NULL;
	raise.terminate = rose && rev->terminate_at != RISK_LEVEL_NONE && level >= rev->terminate_at;
	SPI_connect();
	if (raise.terminate)
	{
		TimestampTz open_max;

		raise.reason = psprintf("risk level %s reached: score %s under risk profile \"%s\" revision %d, which stops runs at %s",
								risk_level_names[level], score_text, rev->profile_name, rev->revision,
								risk_level_names[rev->terminate_at]);

		/* the run ends when the latest of the span, its own start and its open spans' starts began */
		raise.finished_at = started_at;
		if (run->started_at != DT_NOBEGIN && run->started_at > raise.finished_at)
			raise.finished_at = run->started_at;
		if (prefactor_open_spans_latest_start(account, instance, &open_max) && open_max > raise.finished_at)
			raise.finished_at = open_max;
	}
	if (!raise_write_direct(spans, account, instance, run, &raise, finished_at, &agent))
		raise_write_statement(account, instance, &raise, level, finished_at, &agent);
	if (rose && notify)
	{
		char	   *account_name = NULL;
		char	   *agent_name = NULL;

		alert_names(spans, account, &agent, &account_name, &agent_name);
		risk_notify_level_rise(account_name, agent_name, instance, score_text, risk_level_names[level],
							   raise.terminate);
	}
	SPI_finish();
	return raise.terminate;
}

/*
 * The largest running total on a run's spans, NULL if none: the last entry
 * of spans_run_risk_total within (account, instance), read from the btree
 * directly (prefactor_index_last), not by SPI or an index scan: it is asked
 * for every scored span, and either would cost more than the read. It is
 * read with SnapshotSelf: what every transaction committed (those that held
 * the run's lock before this one have, and a repeatable-read snapshot must
 * not hide their spans) and what this transaction stored, including the
 * rows of the current command: the spans before this one in the same
 * multi-row INSERT or COPY, which no snapshot of the command sees.
 */
static Numeric
previous_total(Relation spans, const Pfid *account, const Pfid *instance)
{
	TupleTableSlot *slot;
	Numeric		total = NULL;

	if (total_index_of != RelationGetRelid(spans))
	{
		/* the table's own index: on a Citus worker the table is a shard of spans */
		total_index = prefactor_own_index(spans, "spans_run_risk_total");
		if (!OidIsValid(total_index))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("index \"spans_run_risk_total\" of live risk scoring is missing"),
					 errhint("Re-create it as in the extension script, or ALTER EXTENSION prefactor UPDATE.")));
		total_index_of = RelationGetRelid(spans);
	}
	slot = table_slot_create(spans, NULL);
	if (prefactor_index_last(spans, total_index, account, instance, SnapshotSelf, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, att_total, &isnull);

		if (!isnull)
			total = DatumGetNumericCopy(d);
	}
	ExecDropSingleTupleTableSlot(slot);
	return total;
}

/*
 * Whether a span of this id is stored already: then the row being judged
 * is a replay that will not be stored (INSERT ... ON CONFLICT DO NOTHING
 * skips it after its BEFORE triggers ran; a plain INSERT fails on the key),
 * also by an earlier row of the same command (SnapshotSelf).
 */
static bool
span_stored(Relation spans, const Pfid *account, const Pfid *span_id)
{
	TupleTableSlot *slot;
	bool		found;

	if (span_id == NULL)
		return false;
	slot = table_slot_create(spans, NULL);
	found = prefactor_index_first(spans, RelationGetPrimaryKeyIndex(spans), account, span_id,
								  ForwardScanDirection, SnapshotSelf, slot);
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

/*
 * Live scoring of a new span of a declared type, under the run's lock
 * (RunState was read under it): the run's score after the span is the
 * previous total (totals only grow, points are never negative) plus the
 * points of the span's type. A span that raises the run's level or
 * classification writes the run row now, unless it replays a stored span:
 * a row that is not stored raises nothing.
 */
RiskSpanScore
risk_score_span(Relation spans, const Pfid *account, const Pfid *instance, const Pfid *span_id,
				const Pfid *span_type_id, const RunState *run, TimestampTz started_at)
{
	RiskSpanScore score = {0};
	const RiskTypeInfo *info;
	const RiskRevisionInfo *rev;
	Numeric		previous;
	int			level;

	risk_live_check();
	info = risk_type_lookup(span_type_id, &run->revision);
	if (info == NULL || (!info->scores && info->classification == 0))
		return score;			/* adds nothing the run must know of */
	rev = risk_revision_lookup(&run->revision);
	if (rev == NULL)
		return score;
	risk_live_attnums(spans);
	previous = risk_totals_known(spans, account, instance);
	if (previous == NULL)
		previous = previous_total(spans, account, instance);

	/* what the run row last rolled up counts too (runs scored before 0.2.0 spans carried totals) */
	if (run->risk_score != NULL &&
		(previous == NULL || DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(run->risk_score),
															   NumericGetDatum(previous))) > 0))
		previous = run->risk_score;
	score.scored = true;
	score.total = previous == NULL ? info->points :
		DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(previous),
											NumericGetDatum(info->points)));
	risk_totals_judged(spans, account, instance, span_id, score.total);
	level = risk_level_of(rev, score.total);
	score.raises = (level > run->risk_level || info->classification > run->max_classification) &&
		!span_stored(spans, account, span_id);
	if (score.raises)
		score.terminated = raise_run(spans, account, instance, run, started_at, rev, info, score.total,
									 Max(level, run->risk_level), &score.finished_at,
									 /* on a Citus shard outside a shard scope, the API call on the coordinator notifies */
									 !prefactor_citus_is_shard(spans, "spans") || prefactor_citus_in_scope());
	return score;
}
