/*
 * run_guard.c
 *	  The guard triggers of prefactor.instances: the row rules of a run
 *	  (which were CHECK constraints in 0.1.0) on insert and update, and on
 *	  update the audit trail: a run's stamps never change, a finished run
 *	  never changes, a started run never goes back, and a run that finishes
 *	  (by any path: the API, risk termination, a plain UPDATE) closes its open
 *	  spans in the same statement, so no span of a finished run is open.
 *
 * Live risk scoring updates the run row when a span raises its level or
 * classification, so the update guard is on the span path: in C, and
 * without CHECK expressions, which PostgreSQL compiles again for every
 * statement.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "core/caches.h"
#include "core/excerpt.h"
#include "guard/guard.h"

/* Column numbers of prefactor.instances, found by name once per relation. */
typedef struct InstanceColumns
{
	Oid			relid;
	int			account_id;
	int			id;
	int			purpose;
	int			status;
	int			started_at;
	int			finished_at;
	int			risk_score;
	int			risk_profile_revision_id;
	int			stamps[9];		/* never change after the insert */
} InstanceColumns;

static InstanceColumns icols;

static const InstanceColumns *
instance_columns(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	static const char *const stamp_names[9] =
	{"account_id", "id", "agent_id", "version_id", "schema_version_id", "environment_id",
	"purpose", "registered_at", "risk_profile_revision_id"};

	if (icols.relid == RelationGetRelid(rel))
		return &icols;
	icols.account_id = SPI_fnumber(desc, "account_id");
	icols.id = SPI_fnumber(desc, "id");
	icols.purpose = SPI_fnumber(desc, "purpose");
	icols.status = SPI_fnumber(desc, "status");
	icols.started_at = SPI_fnumber(desc, "started_at");
	icols.finished_at = SPI_fnumber(desc, "finished_at");
	icols.risk_score = SPI_fnumber(desc, "risk_score");
	icols.risk_profile_revision_id = SPI_fnumber(desc, "risk_profile_revision_id");
	for (int i = 0; i < lengthof(stamp_names); i++)
	{
		icols.stamps[i] = SPI_fnumber(desc, stamp_names[i]);
		if (icols.stamps[i] <= 0)
			elog(ERROR, "relation \"%s\" is not prefactor.instances", RelationGetRelationName(rel));
	}
	if (icols.status <= 0 || icols.started_at <= 0 || icols.finished_at <= 0 || icols.risk_score <= 0 ||
		icols.risk_profile_revision_id <= 0)
		elog(ERROR, "relation \"%s\" is not prefactor.instances", RelationGetRelationName(rel));
	icols.relid = RelationGetRelid(rel);
	return &icols;
}

static const char *const run_purposes[] = {"live", "smoke_test", "eval"};

/* A text column's value as a C string, or NULL. */
static char *
text_column(HeapTuple tuple, TupleDesc desc, int attnum)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, attnum, desc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Position of s in a list of words, or -1. */
static int
word_index(const char *s, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

/*
 * The row rules of a run, under the names of the 0.1.0 constraints. Rules on
 * columns that never change are checked on insert only. NULLs are left to
 * the NOT NULL constraints.
 */
static void
check_instance_row(Relation rel, HeapTuple tuple, const InstanceColumns *c, bool insert)
{
	TupleDesc	desc = RelationGetDescr(rel);
	char	   *status = text_column(tuple, desc, c->status);
	bool		open = false;
	bool		known = status && prefactor_run_status(status, &open);
	bool		started_null = heap_attisnull(tuple, c->started_at, desc);
	bool		finished_null = heap_attisnull(tuple, c->finished_at, desc);

	if (status && !known)
		prefactor_rule_violated(rel, "instances_status_check",
								psprintf("Status \"%s\" is not pending, active, complete, failed, cancelled or terminated.",
										 prefactor_excerpt(status)));
	if (known && open != finished_null)
		prefactor_rule_violated(rel, "instances_finished_when_done",
								open ? "An open (pending or active) run has no finish time."
								: "A finished run (complete, failed, cancelled or terminated) needs a finish time.");
	if (status && started_null && strcmp(status, "pending") != 0 && strcmp(status, "cancelled") != 0)
		prefactor_rule_violated(rel, "instances_started_unless_pending",
								psprintf("A run with status %s needs a start time; only pending and cancelled runs may have none.",
										 status));
	prefactor_check_times(rel, "instances_times_finite", "instances_times_ordered", tuple, c->started_at, c->finished_at);
	if (insert)
	{
		char	   *purpose = text_column(tuple, desc, c->purpose);

		if (purpose && word_index(purpose, run_purposes, lengthof(run_purposes)) < 0)
			prefactor_rule_violated(rel, "instances_purpose_check",
									psprintf("Purpose \"%s\" is not live, smoke_test or eval.", prefactor_excerpt(purpose)));
		prefactor_check_id_partition(rel, "instances_id_partition", tuple, c->id, c->account_id);
	}
}

/*
 * A run is finishing at finished_at: its open spans are cancelled then, and a
 * scored run takes its final risk score, the running total of its last span
 * (live scoring writes the run row only when its level or classification
 * rises). No open span may have started after the finish (the finish time is
 * the client's or the API's, and is never moved silently). Runs while the run
 * row still shows the run open, so the span guard lets the spans change.
 * Returns the row to store.
 */
static HeapTuple
finish_run(Relation rel, HeapTuple newtup, const InstanceColumns *c)
{
	static SPIPlanPtr spans_plan = NULL;
	static SPIPlanPtr close_plan = NULL;
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			pf = prefactor_pfid_oid();
	Oid			types[3] = {pf, pf, TIMESTAMPTZOID};
	Datum		values[3];
	bool		isnull;
	bool		total_null;
	Datum		latest;
	Datum		total;
	bool		scored = !heap_attisnull(newtup, c->risk_profile_revision_id, desc);

	values[0] = heap_getattr(newtup, c->account_id, desc, &isnull);
	values[1] = heap_getattr(newtup, c->id, desc, &isnull);
	values[2] = heap_getattr(newtup, c->finished_at, desc, &isnull);
	if (isnull)
		return newtup;			/* reported by instances_finished_when_done */
	SPI_connect();
	prefactor_spi_execute_generic(&spans_plan,
								  "SELECT pg_catalog.max(s.started_at) FILTER (WHERE s.status OPERATOR(pg_catalog.=) ANY (" PREFACTOR_OPEN_STATUSES ")),"
								  " pg_catalog.max(s.risk_total)"
								  " FROM prefactor.spans s"
								  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.instance_id OPERATOR(prefactor.=) $2",
								  2, types, values, NULL, true, 1);
	latest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	total = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &total_null);
	if (!isnull && DatumGetTimestampTz(latest) > DatumGetTimestampTz(values[2]))
		prefactor_rule_violated(rel, "instances_finished_after_open_spans",
								psprintf("The run would finish at %s, before its open span that started at %s.",
										 pstrdup(timestamptz_to_str(DatumGetTimestampTz(values[2]))),
										 pstrdup(timestamptz_to_str(DatumGetTimestampTz(latest)))));
	if (scored && !total_null)
	{
		bool		score_null;
		Datum		score = heap_getattr(newtup, c->risk_score, desc, &score_null);

		if (score_null || DatumGetInt32(DirectFunctionCall2(numeric_cmp, total, score)) > 0)
		{
			int			attnum = c->risk_score;
			Datum		value = SPI_datumTransfer(total, false, -1);
			bool		null = false;

			newtup = heap_modify_tuple_by_cols(newtup, desc, 1, &attnum, &value, &null);
		}
	}
	if (!isnull)
		prefactor_spi_execute_generic(&close_plan,
									  "UPDATE prefactor.spans s SET status = 'cancelled', finished_at = $3"
									  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.instance_id OPERATOR(prefactor.=) $2"
									  " AND s.status OPERATOR(pg_catalog.=) ANY (" PREFACTOR_OPEN_STATUSES ")",
									  3, types, values, NULL, false, 0);
	SPI_finish();
	return newtup;
}

PG_FUNCTION_INFO_V1(prefactor_instances_before_insert);
Datum
prefactor_instances_before_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = prefactor_check_trigger_call(fcinfo, "instances_before_insert", true);

	check_instance_row(td->tg_relation, td->tg_trigtuple, instance_columns(td->tg_relation), true);
	return PointerGetDatum(td->tg_trigtuple);
}

/*
 * The run's start is never after its first span's: the span guard calls this
 * for a span that starts before its run (within prefactor.span_clock_skew),
 * and the run's start moves back to the span's. Runs are started at server
 * time while an agent stamps its first span on its own clock, a few
 * milliseconds earlier (the SDK's start call carries no time).
 */
/*
 * The latest start among a run's open spans (see guard.h). Asked by itself,
 * not inside the run row's update: each statement reads one table of one
 * account, which Citus routes to that account's shard even as a prepared
 * statement.
 */
bool
prefactor_open_spans_latest_start(const Pfid *account, const Pfid *instance, TimestampTz *latest)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};
	Datum		values[2] = {PfidPGetDatum(account), PfidPGetDatum(instance)};
	bool		isnull;
	Datum		d;

	prefactor_spi_execute_generic(&plan,
								  "SELECT pg_catalog.max(s.started_at) FROM prefactor.spans s"
								  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.instance_id OPERATOR(prefactor.=) $2"
								  " AND s.status OPERATOR(pg_catalog.=) ANY (" PREFACTOR_OPEN_STATUSES ")",
								  2, types, values, NULL, true, 1);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*latest = DatumGetTimestampTz(d);
	return !isnull;
}

void
prefactor_move_run_start(const Pfid *account, const Pfid *instance, TimestampTz started)
{
	static SPIPlanPtr plan = NULL;
	Oid			pf = prefactor_pfid_oid();
	Oid			types[3] = {pf, pf, TIMESTAMPTZOID};
	Datum		values[3] = {PfidPGetDatum(account), PfidPGetDatum(instance), TimestampTzGetDatum(started)};

	SPI_connect();
	prefactor_spi_execute(&plan,
						  "UPDATE prefactor.instances SET started_at = $3"
						  " WHERE account_id OPERATOR(prefactor.=) $1 AND id OPERATOR(prefactor.=) $2",
						  3, types, values, NULL, false, 0);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(prefactor_instances_before_update);
Datum
prefactor_instances_before_update(PG_FUNCTION_ARGS)
{
	TriggerData *td = prefactor_check_trigger_call(fcinfo, "instances_before_update", false);
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	oldtup = td->tg_trigtuple;
	HeapTuple	newtup = td->tg_newtuple;
	const InstanceColumns *c = instance_columns(rel);
	char	   *old_status = text_column(oldtup, desc, c->status);
	char	   *new_status = text_column(newtup, desc, c->status);
	bool		isnull;

	if (!prefactor_status_open(old_status))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("instance %s is finished (%s) and cannot change",
						SPI_getvalue(oldtup, desc, c->id), old_status),
				 errhint("Finished runs are part of the audit trail.")));
	for (int i = 0; i < lengthof(c->stamps); i++)
		if (!prefactor_column_unchanged(oldtup, newtup, desc, c->stamps[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("the agent, version, schema version, environment and purpose of instance %s never change",
							SPI_getvalue(oldtup, desc, c->id)),
					 errdetail("Column \"%s\" was changed.",
							   NameStr(TupleDescAttr(desc, c->stamps[i] - 1)->attname))));
	/*
	 * A started run's start may only move earlier: a span that started
	 * before it arrives late (OTLP exports a trace's spans as they end, its
	 * root last), and a run starts no later than its first span.
	 */
	if (strcmp(old_status, "active") == 0 &&
		((new_status && strcmp(new_status, "pending") == 0) ||
		 (!prefactor_column_unchanged(oldtup, newtup, desc, c->started_at) &&
		  (heap_attisnull(newtup, c->started_at, desc) ||
		   DatumGetTimestampTz(heap_getattr(newtup, c->started_at, desc, &isnull)) >
		   DatumGetTimestampTz(heap_getattr(oldtup, c->started_at, desc, &isnull))))))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("instance %s has started; it cannot go back to pending, restart or start later",
						SPI_getvalue(oldtup, desc, c->id)),
				 errhint("A started run's start may only move earlier, to a span that started before it.")));
	check_instance_row(rel, newtup, c, false);
	if (new_status && !prefactor_status_open(new_status))
		newtup = finish_run(rel, newtup, c);
	return PointerGetDatum(newtup);
}
