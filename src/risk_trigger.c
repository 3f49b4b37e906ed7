/*
 * risk_trigger.c
 *	  Live risk scoring of spans. The span guard (BEFORE INSERT, under the
 *	  run's row lock) asks risk_score_span for the run's total after the
 *	  span: the previous span's total plus the points of this span's type
 *	  under the run's profile revision. The total is stored on the span, so
 *	  a span costs its own row and index entries, not a write to its run.
 *	  Only a span that raises the run's level or data classification is
 *	  marked (raised_run_risk); for it alone the AFTER INSERT trigger updates
 *	  the run row, notifies channel prefactor_risk when the level rises, and
 *	  terminates the run when its profile's terminate_at_level is reached.
 *	  A finishing run takes its final total (src/instance_trigger.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "prefactor.h"
#include "risk.h"

#define RISK_CHANNEL			"prefactor_risk"

/* Attribute numbers of spans and the pfid type they were resolved with. */
static Oid	spans_relid = InvalidOid;
static Oid	pfid_typid = InvalidOid;
static int	att_account;
static int	att_instance;
static int	att_span_type_id;
static int	att_started_at;
static int	att_revision;
static int	att_total;

static SPIPlanPtr plan_total = NULL;
static SPIPlanPtr plan_score = NULL;
static SPIPlanPtr plan_level = NULL;

/* Forget saved plans and cached state (the extension was re-created). */
void
risk_trigger_reset(void)
{
	if (plan_total)
		SPI_freeplan(plan_total);
	if (plan_score)
		SPI_freeplan(plan_score);
	if (plan_level)
		SPI_freeplan(plan_level);
	plan_total = plan_score = plan_level = NULL;
	risk_cache_reset();
}

/* Resolve the spans columns the trigger reads, once per relation. */
static void
risk_trigger_attnums(Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	Oid			typid;

	if (RelationGetRelid(rel) == spans_relid)
		return;
	att_account = SPI_fnumber(tupdesc, "account_id");
	att_instance = SPI_fnumber(tupdesc, "instance_id");
	att_span_type_id = SPI_fnumber(tupdesc, "span_type_id");
	att_started_at = SPI_fnumber(tupdesc, "started_at");
	att_revision = SPI_fnumber(tupdesc, "risk_profile_revision_id");
	att_total = SPI_fnumber(tupdesc, "risk_total");
	if (att_account <= 0 || att_instance <= 0 || att_span_type_id <= 0 || att_started_at <= 0 ||
		att_revision <= 0 || att_total <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" is not a spans table",
						RelationGetRelationName(rel)),
				 errdetail("The risk triggers need account_id, instance_id, span_type_id, started_at, risk_profile_revision_id and risk_total.")));
	typid = TupleDescAttr(tupdesc, att_account - 1)->atttypid;
	prefactor_caches_check(typid);	/* resets this file's state too when it changed */
	pfid_typid = typid;
	spans_relid = RelationGetRelid(rel);
}

/* Prepare and keep one plan. */
static SPIPlanPtr
risk_prepare(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not prepare risk scoring statement: %s",
						SPI_result_code_string(SPI_result))));
	SPI_keepplan(plan);
	return plan;
}

/* Store a risen level (terminating at the profile's level) and notify. */
static void
risk_raise_level(Datum account, Datum instance, Datum started_at,
				 const RiskRevisionInfo *rev, Numeric score, int level)
{
	bool		terminate = rev->terminate_at != RISK_LEVEL_NONE && level >= rev->terminate_at;
	char	   *score_text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(score)));
	char	   *reason = NULL;
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	StringInfoData payload;
	char	   *account_name;
	char	   *agent_name;

	if (plan_level == NULL)
	{
		Oid			argtypes[6] = {pfid_typid, pfid_typid, TEXTOID, BOOLOID, TIMESTAMPTZOID, TEXTOID};

		plan_level = risk_prepare("UPDATE prefactor.instances i SET risk_level = $3::prefactor.risk_level,"
								  " status = CASE WHEN $4 THEN 'terminated' ELSE i.status END,"
								  " finished_at = CASE WHEN $4 THEN greatest($5, i.started_at, (SELECT pg_catalog.max(s.started_at) FROM prefactor.spans s"
								  "   WHERE s.account_id OPERATOR(prefactor.=) i.account_id AND s.instance_id OPERATOR(prefactor.=) i.id"
								  "   AND s.status OPERATOR(pg_catalog.=) ANY ('{pending,active}'::pg_catalog.text[]))) ELSE i.finished_at END,"
								  " termination_reason = CASE WHEN $4 THEN $6 ELSE i.termination_reason END"
								  " WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2"
								  " RETURNING (SELECT a.name FROM prefactor.accounts a WHERE a.account_id OPERATOR(prefactor.=) i.account_id),"
								  " (SELECT g.name FROM prefactor.agents g"
								  "   WHERE g.account_id OPERATOR(prefactor.=) i.account_id AND g.id OPERATOR(prefactor.=) i.agent_id)",
								  6, argtypes);
	}
	if (terminate)
		reason = psprintf("risk level %s reached: score %s under risk profile \"%s\" revision %d, which stops runs at %s",
						  risk_level_names[level], score_text, rev->profile_name, rev->revision,
						  risk_level_names[rev->terminate_at]);
	args[0] = account;
	args[1] = instance;
	args[2] = CStringGetTextDatum(risk_level_names[level]);
	args[3] = BoolGetDatum(terminate);
	args[4] = started_at;
	if (reason)
		args[5] = CStringGetTextDatum(reason);
	else
	{
		args[5] = (Datum) 0;
		nulls[5] = 'n';
	}
	if (SPI_execute_plan(plan_level, args, nulls, false, 1) != SPI_OK_UPDATE_RETURNING)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not store the risk level of a run")));
	if (SPI_processed == 0)
		return;
	account_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	agent_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"account\": ");
	escape_json(&payload, account_name ? account_name : "");
	appendStringInfoString(&payload, ", \"agent\": ");
	escape_json(&payload, agent_name ? agent_name : "");
	appendStringInfoString(&payload, ", \"instance\": ");
	escape_json(&payload, DatumGetCString(DirectFunctionCall1(pfid_out, instance)));
	appendStringInfo(&payload, ", \"score\": %s, \"level\": \"%s\", \"terminated\": %s}",
					 score_text, risk_level_names[level], terminate ? "true" : "false");
	Async_Notify(RISK_CHANNEL, payload.data);
}

/*
 * The run's score after a new span of a declared type, under the run's lock
 * (RunState was read under it). The previous total is the largest total on
 * the run's spans (points are never negative, so totals only grow), read
 * through the partial index spans_run_risk_total with the latest snapshot:
 * the spans of every transaction that held the run's lock before this one
 * have committed, and a repeatable-read snapshot must not hide them, or a
 * point would be lost.
 */
RiskSpanScore
risk_score_span(const Pfid *account, const Pfid *instance, const Pfid *span_type_id,
				const RunState *run)
{
	RiskSpanScore score = {0};
	const RiskTypeInfo *info;
	const RiskRevisionInfo *rev;
	Datum		args[2] = {PfidPGetDatum(account), PfidPGetDatum(instance)};
	Numeric		previous;
	bool		isnull;
	Datum		d;
	MemoryContext caller = CurrentMemoryContext;

	info = risk_type_lookup(span_type_id, &run->revision);
	if (info == NULL || (!info->scores && info->classification == 0))
		return score;			/* adds nothing the run must know of */
	rev = risk_revision_lookup(&run->revision);
	if (rev == NULL)
		return score;

	SPI_connect();
	if (plan_total == NULL)
	{
		Oid			argtypes[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};

		plan_total = risk_prepare("SELECT pg_catalog.max(s.risk_total) FROM prefactor.spans s"
								  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.instance_id OPERATOR(prefactor.=) $2"
								  " AND s.risk_total IS NOT NULL",
								  2, argtypes);
	}
	if (SPI_execute_snapshot(plan_total, args, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 1) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not read the running risk total of a run")));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	previous = NULL;
	if (!isnull)
	{
		/* detoasted into the caller's context (SPI's goes at SPI_finish) */
		MemoryContext spi = MemoryContextSwitchTo(caller);

		previous = DatumGetNumericCopy(d);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();

	/* what the run row last rolled up counts too (runs scored before 0.2.0 spans carried totals) */
	if (run->risk_score != NULL &&
		(previous == NULL || DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(run->risk_score),
															   NumericGetDatum(previous))) > 0))
		previous = run->risk_score;
	score.scored = true;
	score.total = previous == NULL ? info->points :
		DatumGetNumeric(DirectFunctionCall2(numeric_add, NumericGetDatum(previous),
											NumericGetDatum(info->points)));
	score.raises = risk_level_of(rev, score.total) > run->risk_level ||
		info->classification > run->max_classification;
	return score;
}

PG_FUNCTION_INFO_V1(prefactor_risk_span_trigger);
/*
 * AFTER INSERT FOR EACH ROW on spans, WHEN the span raised its run's level or
 * classification: stores the run's score, classification and level, and
 * notifies or terminates when the level rose.
 */
Datum
prefactor_risk_span_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	Datum		account;
	Datum		instance;
	Datum		span_type;
	Datum		started_at;
	Datum		revision;
	Datum		total;
	bool		isnull;
	const RiskTypeInfo *info;
	const RiskRevisionInfo *rev;
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	int			old_level;
	int			new_level;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("prefactor_risk_span_trigger must be an AFTER INSERT FOR EACH ROW trigger")));

	risk_trigger_attnums(trigdata->tg_relation);
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	tuple = trigdata->tg_trigtuple;

	/* the guard set a total only for a scored span of a declared type */
	total = heap_getattr(tuple, att_total, tupdesc, &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	revision = heap_getattr(tuple, att_revision, tupdesc, &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	span_type = heap_getattr(tuple, att_span_type_id, tupdesc, &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	account = heap_getattr(tuple, att_account, tupdesc, &isnull);
	instance = heap_getattr(tuple, att_instance, tupdesc, &isnull);
	started_at = heap_getattr(tuple, att_started_at, tupdesc, &isnull);

	info = risk_type_lookup(DatumGetPfidP(span_type), DatumGetPfidP(revision));
	rev = risk_revision_lookup(DatumGetPfidP(revision));
	if (info == NULL || rev == NULL)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not connect to SPI for risk scoring")));
	if (plan_score == NULL)
	{
		Oid			argtypes[4] = {pfid_typid, pfid_typid, NUMERICOID, TEXTOID};

		plan_score = risk_prepare("UPDATE prefactor.instances"
								  " SET risk_score = greatest(coalesce(risk_score, 0), $3),"
								  " max_classification = greatest(max_classification, $4::prefactor.data_classification)"
								  " WHERE account_id OPERATOR(prefactor.=) $1 AND id OPERATOR(prefactor.=) $2 AND status OPERATOR(pg_catalog.=) 'active'"
								  " RETURNING risk_level::text",
								  4, argtypes);
	}
	args[0] = account;
	args[1] = instance;
	args[2] = total;
	if (info->classification_name)
		args[3] = CStringGetTextDatum(info->classification_name);
	else
	{
		args[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	if (SPI_execute_plan(plan_score, args, nulls, false, 1) != SPI_OK_UPDATE_RETURNING)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not store the risk of a run")));
	if (SPI_processed == 1)
	{
		old_level = risk_level_from_name(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
		new_level = risk_level_of(rev, DatumGetNumeric(total));
		if (new_level > old_level)
			risk_raise_level(account, instance, started_at, rev, DatumGetNumeric(total), new_level);
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
