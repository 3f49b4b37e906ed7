/*
 * span_guard.c
 *	  The triggers of the span insert path. Every span, whether it comes from
 *	  the API functions, INSERT or COPY, passes the same checks here: its run
 *	  is active (its row locked, so a concurrent finish waits or is seen),
 *	  its conformance columns are left to the validator, and its span type is
 *	  resolved from the run's schema version. Updates only finish a span, or
 *	  link a span that arrived before its parent to it (parent_ref).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "parser/parse_relation.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "access/account_access.h"
#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/index_read.h"
#include "core/row_write.h"
#include "core/excerpt.h"
#include "guard/guard.h"
#include "risk/risk.h"
#include "validation/validation.h"

/* Column numbers of prefactor.spans, found by name once per relation. */
typedef struct SpanColumns
{
	Oid			relid;
	int			account_id;
	int			id;
	int			instance_id;
	int			parent_span_id;
	int			parent_ref;		/* the client's id of a parent not stored yet */
	int			span_type;
	int			status;
	int			payload;
	int			result;
	int			started_at;
	int			finished_at;
	int			span_type_id;
	int			risk_profile_revision_id;
	int			conformance[5];	/* computed by the validator only */
	int			risk_total;		/* computed by live scoring only */
	int			raised_run_risk;
} SpanColumns;

static SpanColumns cols;


/* Positions in SpanColumns.conformance. */
enum
{
	CONF_PAYLOAD_CONFORMS, CONF_PAYLOAD_ERRORS, CONF_RESULT_CONFORMS, CONF_RESULT_ERRORS,
	CONF_VALIDATION
};

/* Looks up (once per relation) the attribute numbers of the span columns. */
static const SpanColumns *
span_columns(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	static const char *const conformance_names[5] =
	{"payload_conforms", "payload_errors", "result_conforms", "result_errors", "validation"};

	if (cols.relid == RelationGetRelid(rel))
		return &cols;
	cols.account_id = SPI_fnumber(desc, "account_id");
	cols.id = SPI_fnumber(desc, "id");
	cols.instance_id = SPI_fnumber(desc, "instance_id");
	cols.parent_span_id = SPI_fnumber(desc, "parent_span_id");
	cols.parent_ref = SPI_fnumber(desc, "parent_ref");
	cols.span_type = SPI_fnumber(desc, "span_type");
	cols.status = SPI_fnumber(desc, "status");
	cols.payload = SPI_fnumber(desc, "payload");
	cols.result = SPI_fnumber(desc, "result");
	cols.started_at = SPI_fnumber(desc, "started_at");
	cols.finished_at = SPI_fnumber(desc, "finished_at");
	cols.span_type_id = SPI_fnumber(desc, "span_type_id");
	cols.risk_profile_revision_id = SPI_fnumber(desc, "risk_profile_revision_id");
	cols.risk_total = SPI_fnumber(desc, "risk_total");
	cols.raised_run_risk = SPI_fnumber(desc, "raised_run_risk");
	for (int i = 0; i < 5; i++)
		cols.conformance[i] = SPI_fnumber(desc, conformance_names[i]);
	if (cols.span_type_id <= 0 || cols.conformance[4] <= 0 || cols.instance_id <= 0 ||
		cols.risk_profile_revision_id <= 0 || cols.risk_total <= 0 || cols.raised_run_risk <= 0 ||
		cols.parent_ref <= 0)
		elog(ERROR, "relation \"%s\" is not prefactor.spans", RelationGetRelationName(rel));
	cols.relid = RelationGetRelid(rel);
	return &cols;
}

/* Checks that a trigger function was called the way it is declared. */
TriggerData *
prefactor_check_trigger_call(FunctionCallInfo fcinfo, const char *name, bool insert)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		(insert ? !TRIGGER_FIRED_BY_INSERT(td->tg_event) : !TRIGGER_FIRED_BY_UPDATE(td->tg_event)))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s must be a BEFORE %s FOR EACH ROW trigger", name,
						insert ? "INSERT" : "UPDATE")));
	return td;
}

/* Raises unless the computed columns of a new span (conformance, live risk) are all NULL. */
static void
refuse_written_conformance(HeapTuple tuple, TupleDesc desc, const SpanColumns *c)
{
	int			computed[7] = {c->conformance[0], c->conformance[1], c->conformance[2], c->conformance[3],
	c->conformance[4], c->risk_total, c->raised_run_risk};

	for (int i = 0; i < lengthof(computed); i++)
		if (!heap_attisnull(tuple, computed[i], desc))
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("%s columns of a span are computed, not written",
							i < 5 ? "conformance" : "live risk"),
					 errdetail("Column \"%s\" was given a value.",
							   NameStr(TupleDescAttr(desc, computed[i] - 1)->attname)),
					 errhint("Leave payload_conforms, payload_errors, result_conforms, result_errors, validation, "
							 "risk_total and raised_run_risk out.")));
}

/*
 * Raises check_violation for a row that breaks the named rule, as a CHECK
 * constraint of that name would (the row rules of run data live in the
 * guard triggers, see check_span_row).
 */
void
prefactor_rule_violated(Relation rel, const char *rule, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("new row for relation \"%s\" violates check constraint \"%s\"",
					RelationGetRelationName(rel), rule),
			 errdetail_internal("%s", detail),
			 errtableconstraint(rel, rule)));
}

/* A run or span rule: started_at and finished_at are finite times (NULLs pass). */
static void
check_time_finite(Relation rel, const char *rule, HeapTuple tuple, int att)
{
	bool		isnull;
	Datum		t = heap_getattr(tuple, att, RelationGetDescr(rel), &isnull);

	if (!isnull && TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(t)))
		prefactor_rule_violated(rel, rule,
								psprintf("%s is %s; run and span times are finite.",
										 NameStr(TupleDescAttr(RelationGetDescr(rel), att - 1)->attname),
										 TIMESTAMP_IS_NOBEGIN(DatumGetTimestampTz(t)) ? "-infinity" : "infinity"));
}

/*
 * Run and span rules on times: both are finite (finite_rule) and finished_at
 * never precedes started_at (ordered_rule); NULLs pass.
 */
void
prefactor_check_times(Relation rel, const char *finite_rule, const char *ordered_rule, HeapTuple tuple,
					  int started_att, int finished_att)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		started_null;
	bool		finished_null;
	Datum		started = heap_getattr(tuple, started_att, desc, &started_null);
	Datum		finished = heap_getattr(tuple, finished_att, desc, &finished_null);

	check_time_finite(rel, finite_rule, tuple, started_att);
	check_time_finite(rel, finite_rule, tuple, finished_att);
	if (!started_null && !finished_null && DatumGetTimestampTz(finished) < DatumGetTimestampTz(started))
		prefactor_rule_violated(rel, ordered_rule,
								psprintf("finished_at %s is before started_at %s.",
		/* timestamptz_to_str answers in one static buffer */
										 pstrdup(timestamptz_to_str(DatumGetTimestampTz(finished))),
										 pstrdup(timestamptz_to_str(DatumGetTimestampTz(started)))));
}

/* A run or span rule: the row's id carries its account's partition (NULLs pass). */
void
prefactor_check_id_partition(Relation rel, const char *rule, HeapTuple tuple,
							 int id_att, int account_att)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		id_null;
	bool		account_null;
	Datum		id = heap_getattr(tuple, id_att, desc, &id_null);
	Datum		account = heap_getattr(tuple, account_att, desc, &account_null);

	if (!id_null && !account_null &&
		pfid_get_partition(DatumGetPfidP(id)) != pfid_get_partition(DatumGetPfidP(account)))
		prefactor_rule_violated(rel, rule,
								psprintf("Id %s is in partition %d, its account %s in partition %d.",
										 pfid_text(DatumGetPfidP(id)), pfid_get_partition(DatumGetPfidP(id)),
										 pfid_text(DatumGetPfidP(account)),
										 pfid_get_partition(DatumGetPfidP(account))));
}

/*
 * The row rules of a span, checked by the guard triggers that every insert
 * and update passes. They were CHECK constraints in 0.1.0 and keep their
 * names; PostgreSQL recompiles CHECK expressions for every statement, and
 * each span call is one statement, so in C they cost a fraction. Rules on
 * columns that never change after the insert are checked on insert only.
 * NULLs are left to the NOT NULL constraints.
 */
static void
check_span_row(Relation rel, HeapTuple tuple, const SpanColumns *c, bool insert)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	bool		open = false;
	bool		has_status;
	bool		finished_null = heap_attisnull(tuple, c->finished_at, desc);
	Datum		d = heap_getattr(tuple, c->status, desc, &isnull);

	has_status = !isnull;
	if (has_status)
	{
		char	   *status = TextDatumGetCString(d);

		if (!prefactor_span_status(status, &open))
			prefactor_rule_violated(rel, "spans_status_check",
							   psprintf("Status \"%s\" is not pending, active, complete, failed or cancelled.",
										prefactor_excerpt(status)));
	}
	if (has_status && open != finished_null)
		prefactor_rule_violated(rel, "spans_finished_when_done",
						   open ? "An open (pending or active) span has no finish time."
						   : "A finished span (complete, failed or cancelled) needs a finish time.");
	prefactor_check_times(rel, "spans_times_finite", "spans_times_ordered", tuple, c->started_at, c->finished_at);
	if (insert)
	{
		Datum		id = heap_getattr(tuple, c->id, desc, &isnull);
		Datum		parent;
		Datum		span_type;
		bool		parent_null;

		prefactor_check_id_partition(rel, "spans_id_partition", tuple, c->id, c->account_id);
		parent = heap_getattr(tuple, c->parent_span_id, desc, &parent_null);
		if (!isnull && !parent_null && memcmp(DatumGetPfidP(id), DatumGetPfidP(parent), sizeof(Pfid)) == 0)
			prefactor_rule_violated(rel, "spans_not_own_parent", "A span cannot be its own parent.");
		if (!heap_attisnull(tuple, c->parent_ref, desc))
		{
			text	   *ref = DatumGetTextPP(heap_getattr(tuple, c->parent_ref, desc, &isnull));
			int			len = VARSIZE_ANY_EXHDR(ref);

			if (!parent_null)
				prefactor_rule_violated(rel, "spans_parent_ref_unresolved",
										"A span names its stored parent (parent_span_id) or awaits one (parent_ref), not both.");
			if (len == 0 || len > 200)
				prefactor_rule_violated(rel, "spans_parent_ref_length",
										psprintf("An awaited parent's id has 1 to 200 bytes, not %d.", len));
		}
		span_type = heap_getattr(tuple, c->span_type, desc, &isnull);
		if (!isnull)
		{
			text	   *t = DatumGetTextPP(span_type);
			int			len = VARSIZE_ANY_EXHDR(t);

			if (len == 0 || (len > SPAN_TYPE_NAME_MAX_CHARS &&
							 pg_mbstrlen_with_len(VARDATA_ANY(t), len) > SPAN_TYPE_NAME_MAX_CHARS))
				prefactor_rule_violated(rel, "spans_span_type_check",
								   psprintf("A span type name has 1 to %d characters, not %d.",
											SPAN_TYPE_NAME_MAX_CHARS,
											len == 0 ? 0 : pg_mbstrlen_with_len(VARDATA_ANY(t), len)));
		}
	}
}

/*
 * Locks a run's row, so that a concurrent finish either waits for this span
 * or is seen by it, and reads what a span insert needs of the run. Raises
 * when the run does not exist. The lock is FOR NO KEY UPDATE, not FOR SHARE:
 * live risk scoring adds each span's points to the run's running total,
 * which the previous span of the run holds, so the spans of one run are
 * stored one transaction at a time (and the rare run update that follows a
 * level rise cannot deadlock with another span's shared lock).
 */
/* The instances table beside a spans table (found once). */
static Oid	run_table_of = InvalidOid;
static Oid	run_table = InvalidOid;

static void
find_run_table(Oid namespace)
{
	if (run_table_of == namespace)
		return;
	run_table = get_relname_relid("instances", namespace);
	if (!OidIsValid(run_table))
		elog(ERROR, "relation prefactor.instances is missing");
	run_table_of = namespace;
}

/*
 * The ranks of the run row's enum values (risk level, classification) by
 * value: every span reads both, and enum_out asks the syscache for the
 * label each time. Forgotten when any enum value changes (a renamed label).
 */
typedef struct EnumRank
{
	Oid			value;
	int			rank;
} EnumRank;

#define ENUM_RANKS_MAX 16
static EnumRank enum_ranks[ENUM_RANKS_MAX];
static int	enum_ranks_count = 0;
static bool enum_ranks_watched = false;

static void
enum_ranks_invalidated(Datum arg, int cacheid, uint32 hashvalue)
{
	enum_ranks_count = 0;
}

/* An enum column's rank by rank_of(label); rank_of(NULL) when it is NULL. */
static int
enum_rank(TupleTableSlot *slot, AttrNumber attnum, int (*rank_of) (const char *))
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);
	Oid			value;
	int			rank;

	if (isnull)
		return rank_of(NULL);
	value = DatumGetObjectId(d);
	for (int i = 0; i < enum_ranks_count; i++)
		if (enum_ranks[i].value == value)
			return enum_ranks[i].rank;
	if (!enum_ranks_watched)
	{
		CacheRegisterSyscacheCallback(ENUMOID, enum_ranks_invalidated, (Datum) 0);
		enum_ranks_watched = true;
	}
	rank = rank_of(DatumGetCString(DirectFunctionCall1(enum_out, d)));
	if (enum_ranks_count < ENUM_RANKS_MAX)
	{
		enum_ranks[enum_ranks_count].value = value;
		enum_ranks[enum_ranks_count++].rank = rank;
	}
	return rank;
}

/* The columns of the run row a span insert reads, found once per instances table. */
enum
{
	RUN_STATUS, RUN_SCHEMA_VERSION, RUN_TERMINATION_REASON, RUN_REVISION, RUN_STARTED,
	RUN_RISK_SCORE, RUN_RISK_LEVEL, RUN_CLASSIFICATION, RUN_ACCOUNT, RUN_ID, RUN_NCOLUMNS
};
static const char *const run_column_names[RUN_NCOLUMNS] = {
	"status", "schema_version_id", "termination_reason", "risk_profile_revision_id", "started_at",
	"risk_score", "risk_level", "max_classification", "account_id", "id"
};
static Oid	run_columns_of = InvalidOid;
static AttrNumber run_column[RUN_NCOLUMNS];

/* The columns are found again after their relation (the runs table or a shard of it) changes. */
static void
run_columns_forget(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == run_columns_of)
		run_columns_of = InvalidOid;
}

/*
 * Where this subtransaction locked each run: locking a run again (the API
 * locks it before its insert, the guard as it judges the row, and a bulk
 * INSERT or COPY brings many spans of each run) starts from that version
 * instead of searching the primary key. A version this subtransaction
 * locked or wrote cannot be pruned before it ends, and a subtransaction id
 * is never reused within a transaction, so a place is only trusted under the
 * same local transaction and subtransaction ids, in the same storage of the
 * table (CLUSTER in the transaction moves rows); lock_run_version checks
 * that the row there is still the run's latest version.
 */
typedef struct LockedRunKey
{
	Pfid		account;
	Pfid		instance;
} LockedRunKey;

typedef struct LockedRun
{
	LockedRunKey key;
	LocalTransactionId lxid;
	SubTransactionId subxid;
	Oid			relfilenode;
	ItemPointerData tid;
	bool		keys_checked;	/* the version there is a raise whose foreign keys were checked */
} LockedRun;

/* more runs than a bulk load locks at once; beyond it the table starts over */
#define LOCKED_RUNS_MAX 16384

static HTAB *locked_runs = NULL;

/* This subtransaction's place of a run's row, or NULL. */
static LockedRun *
locked_run_find(const Pfid *account, const Pfid *instance, Oid relfilenode)
{
	LockedRunKey key;
	LockedRun  *entry;

	if (locked_runs == NULL)
		return NULL;
	memset(&key, 0, sizeof(key));
	key.account = *account;
	key.instance = *instance;
	entry = hash_search(locked_runs, &key, HASH_FIND, NULL);
	if (entry == NULL || entry->lxid != MyProc->lxid || entry->subxid != GetCurrentSubTransactionId() ||
		entry->relfilenode != relfilenode)
		return NULL;
	return entry;
}

/* Remembers where this subtransaction locked (or wrote) a run's row. */
static void
locked_run_remember(const Pfid *account, const Pfid *instance, Oid relfilenode, ItemPointer tid,
					bool keys_checked)
{
	LockedRunKey key;
	LockedRun  *entry;

	prefactor_bounded_hash(&locked_runs, "prefactor locked runs", sizeof(LockedRunKey), sizeof(LockedRun),
						   LOCKED_RUNS_MAX);
	memset(&key, 0, sizeof(key));
	key.account = *account;
	key.instance = *instance;
	entry = hash_search(locked_runs, &key, HASH_ENTER, NULL);
	entry->lxid = MyProc->lxid;
	entry->subxid = GetCurrentSubTransactionId();
	entry->relfilenode = relfilenode;
	entry->tid = *tid;
	entry->keys_checked = keys_checked;
}

/* Forgets a run's place, when it could not be locked this way. */
static void
locked_run_forget(const Pfid *account, const Pfid *instance)
{
	LockedRunKey key;

	if (locked_runs == NULL)
		return;
	memset(&key, 0, sizeof(key));
	key.account = *account;
	key.instance = *instance;
	hash_search(locked_runs, &key, HASH_REMOVE, NULL);
}

static bool
same_pfid(const Pfid *a, const Pfid *b)
{
	return memcmp(a, b, sizeof(Pfid)) == 0;
}

/*
 * Locks the latest version of the run row at tid FOR NO KEY UPDATE, waiting
 * for a concurrent writer; the slot receives it. False unless it is locked
 * and is the run asked for.
 */
static bool
lock_run_version(Relation instances, ItemPointer tid, TupleTableSlot *slot, const Pfid *account,
				 const Pfid *instance)
{
	bool		isnull;

	return prefactor_lock_latest(instances, tid, slot) &&
		same_pfid(DatumGetPfidP(slot_getattr(slot, run_column[RUN_ACCOUNT], &isnull)), account) &&
		same_pfid(DatumGetPfidP(slot_getattr(slot, run_column[RUN_ID], &isnull)), instance);
}

/*
 * The run lock without a planned query, as SELECT ... FOR NO KEY UPDATE takes
 * it in READ COMMITTED: find the run through its primary key, lock its latest
 * version (waiting for a concurrent writer), and read it. Every span takes
 * this lock, and a query's start-up would cost more than the lock. False when
 * the lock could not be taken this way (the run is gone or changed in this
 * command): the caller then asks the executor.
 */
static bool
lock_run_direct(const Pfid *account, const Pfid *instance, RunState *run)
{
	Relation	instances;
	TupleTableSlot *slot;
	ItemPointerData tid;
	bool		isnull;
	bool		locked;
	Datum		d;
	LockedRun  *place;
	bool		keys_checked = false;
	Oid			relid;

	/*
	 * Only a role that may store spans in the run's account locks its run
	 * this way (the executor's path applies row-level security): no one
	 * locks, or learns of, another account's run.
	 */
	if (!prefactor_has_access(account, "ingest"))
		return false;
	find_run_table(get_namespace_oid("prefactor", false));
	/* on Citus the runs are in shards: the account's shard here, else the executor finds them */
	relid = prefactor_citus_local_relid(run_table);
	if (!OidIsValid(relid))
		return false;
	instances = table_open(relid, RowShareLock);
	if (run_columns_of != relid)
	{
		prefactor_on_relcache_invalidation(run_columns_forget, (Datum) 0);
		for (int i = 0; i < RUN_NCOLUMNS; i++)
			run_column[i] = attnameAttNum(instances, run_column_names[i], false);
		run_columns_of = relid;
	}
	slot = table_slot_create(instances, NULL);
	locked = false;
	place = locked_run_find(account, instance, instances->rd_node.relNode);
	if (place != NULL)
	{
		/* a version this subtransaction updated since is not locked this way: then search */
		ItemPointerData at = place->tid;
		bool		checked = place->keys_checked;

		tid = at;
		locked = lock_run_version(instances, &tid, slot, account, instance);
		/* still the version a raise of this subtransaction wrote */
		keys_checked = locked && checked && ItemPointerEquals(&slot->tts_tid, &at);
	}
	if (!locked && prefactor_index_first(instances, RelationGetPrimaryKeyIndex(instances),
										 account, instance, ForwardScanDirection, NULL, slot))
	{
		tid = slot->tts_tid;
		locked = lock_run_version(instances, &tid, slot, account, instance);
	}
	if (!locked)
	{
		locked_run_forget(account, instance);
		ExecDropSingleTupleTableSlot(slot);
		table_close(instances, RowShareLock);
		return false;
	}
	locked_run_remember(account, instance, instances->rd_node.relNode, &slot->tts_tid, keys_checked);
	run->tid = slot->tts_tid;
	run->relid = relid;
	run->keys_checked = keys_checked;

	run->status = TextDatumGetCString(slot_getattr(slot, run_column[RUN_STATUS], &isnull));
	memcpy(&run->schema_version, DatumGetPfidP(slot_getattr(slot, run_column[RUN_SCHEMA_VERSION], &isnull)),
		   sizeof(Pfid));
	d = slot_getattr(slot, run_column[RUN_TERMINATION_REASON], &isnull);
	run->termination_reason = isnull ? NULL : TextDatumGetCString(d);
	d = slot_getattr(slot, run_column[RUN_REVISION], &isnull);
	run->has_revision = !isnull;
	if (!isnull)
		memcpy(&run->revision, DatumGetPfidP(d), sizeof(Pfid));
	d = slot_getattr(slot, run_column[RUN_STARTED], &isnull);
	run->started_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	d = slot_getattr(slot, run_column[RUN_RISK_SCORE], &isnull);
	run->risk_score = isnull ? NULL : DatumGetNumericCopy(d);
	run->risk_level = enum_rank(slot, run_column[RUN_RISK_LEVEL], risk_level_from_name);
	run->max_classification = enum_rank(slot, run_column[RUN_CLASSIFICATION], risk_classification_rank);
	ExecDropSingleTupleTableSlot(slot);
	table_close(instances, RowShareLock);
	return true;
}

void
prefactor_lock_run(const Pfid *account, const Pfid *instance, RunState *run)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};
	Datum		values[2] = {PfidPGetDatum(account), PfidPGetDatum(instance)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	char	   *text;
	MemoryContext outer = CurrentMemoryContext;

	ItemPointerSetInvalid(&run->tid);
	run->relid = InvalidOid;
	run->keys_checked = false;
	/* a repeatable-read transaction gets the executor's serialization checks */
	if (!IsolationUsesXactSnapshot() && lock_run_direct(account, instance, run))
		return;
	SPI_connect();
	prefactor_spi_execute(&plan,
						  "SELECT i.status, i.schema_version_id, i.termination_reason, i.risk_profile_revision_id,"
						  " i.started_at, i.risk_level::pg_catalog.text, i.max_classification::pg_catalog.text,"
						  " i.risk_score"
						  " FROM prefactor.instances i"
						  " WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2"
						  " FOR NO KEY UPDATE",
						  2, argtypes, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("instance %s does not exist", pfid_text(instance)),
				 errhint("Start a run with prefactor.prefactor_start_run() first.")));
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	run->status = MemoryContextStrdup(outer, SPI_getvalue(row, desc, 1));
	memcpy(&run->schema_version, DatumGetPfidP(SPI_getbinval(row, desc, 2, &isnull)), sizeof(Pfid));
	text = SPI_getvalue(row, desc, 3);
	run->termination_reason = text ? MemoryContextStrdup(outer, text) : NULL;
	d = SPI_getbinval(row, desc, 4, &isnull);
	run->has_revision = !isnull;
	if (!isnull)
		memcpy(&run->revision, DatumGetPfidP(d), sizeof(Pfid));
	d = SPI_getbinval(row, desc, 5, &isnull);
	run->started_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(d);
	run->risk_level = risk_level_from_name(SPI_getvalue(row, desc, 6));
	run->max_classification = risk_classification_rank(SPI_getvalue(row, desc, 7));
	d = SPI_getbinval(row, desc, 8, &isnull);
	if (isnull)
		run->risk_score = NULL;
	else
	{
		/* detoasted into the caller's context (SPI's goes at SPI_finish) */
		MemoryContext spi = MemoryContextSwitchTo(outer);

		run->risk_score = DatumGetNumericCopy(d);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
}

/*
 * This subtransaction wrote a new version of a run row it had locked (a
 * raise of its risk): the next lock of the run starts from there.
 */
void
prefactor_run_row_moved(Relation instances, const Pfid *account, const Pfid *instance, ItemPointer tid,
						bool keys_checked)
{
	locked_run_remember(account, instance, instances->rd_node.relNode, tid, keys_checked);
}

/*
 * lock_run(account, instance): the run lock for SQL (see prefactor_lock_run),
 * taken in the account's shard scope as the span calls take it.
 */
PG_FUNCTION_INFO_V1(prefactor_lock_run_sql);
Datum
prefactor_lock_run_sql(PG_FUNCTION_ARGS)
{
	RunState	run;
	void	   *scope = prefactor_citus_scope_begin(PG_GETARG_PFID_P(0));

	prefactor_lock_run(PG_GETARG_PFID_P(0), PG_GETARG_PFID_P(1), &run);
	prefactor_citus_scope_end(scope);
	PG_RETURN_VOID();
}

/* Raises unless a run with this status takes new spans. */
void
prefactor_require_active(const Pfid *instance, const char *status)
{
	if (strcmp(status, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("instance %s is %s, so it takes no new spans", pfid_text(instance), status),
				 errhint(strcmp(status, "pending") == 0 ?
						 "Start the run with prefactor.prefactor_begin_run() first." :
						 "A finished run and its spans cannot change.")));
}

/*
 * A span starts within its run: not before the run's start, less the clock
 * skew allowed between the agent that times spans and the server or client
 * that timed the run (prefactor.span_clock_skew). Times are kept as sent; a
 * span within the skew before its run moves the run's start back to it, so
 * a run never starts after its first span.
 */
static void
check_started_in_run(Relation rel, HeapTuple tuple, const SpanColumns *c, const Pfid *account,
					 const Pfid *instance, TimestampTz run_started)
{
	bool		isnull;
	Datum		started = heap_getattr(tuple, c->started_at, RelationGetDescr(rel), &isnull);

	if (isnull || TIMESTAMP_NOT_FINITE(run_started) || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(started)))
		return;					/* NULL and infinite times have rules of their own */
	if (DatumGetTimestampTz(started) < run_started - (TimestampTz) prefactor_span_clock_skew * 1000)
		prefactor_rule_violated(rel, "spans_started_within_run",
								psprintf("The span starts at %s, more than %d ms before its run started at %s.",
										 pstrdup(timestamptz_to_str(DatumGetTimestampTz(started))),
										 prefactor_span_clock_skew,
										 pstrdup(timestamptz_to_str(run_started))));
	if (DatumGetTimestampTz(started) < run_started)
		prefactor_move_run_start(account, instance, DatumGetTimestampTz(started));
}

/* Whether a span row's status is open (pending, active); NULL or unknown is not. */
static bool
span_is_open(HeapTuple tuple, TupleDesc desc, const SpanColumns *c)
{
	bool		isnull;
	bool		open = false;
	Datum		d = heap_getattr(tuple, c->status, desc, &isnull);

	return !isnull && prefactor_span_status(TextDatumGetCString(d), &open) && open;
}

PG_FUNCTION_INFO_V1(prefactor_spans_before_insert);
Datum
prefactor_spans_before_insert(PG_FUNCTION_ARGS)
{
	TriggerData *td = prefactor_check_trigger_call(fcinfo, "spans_before_insert", true);
	Relation	rel = td->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	HeapTuple	tuple = td->tg_trigtuple;
	const SpanColumns *c;
	bool		isnull;
	Pfid		account;
	Pfid		instance;
	RunState	run;
	Pfid		span_type_id;
	Datum		span_type;
	bool		declared;
	int			attnums[11];
	Datum		values[11];
	bool		nulls[11];
	int			n = 0;

	Datum		d;

	c = span_columns(rel);
	prefactor_caches_check(TupleDescAttr(desc, c->account_id - 1)->atttypid);
	/* the span judged before is stored by now, or was skipped: live scoring learns which */
	risk_totals_span_arrives(rel);
	refuse_written_conformance(tuple, desc, c);

	/* a NULL key column is reported by its NOT NULL constraint */
	d = heap_getattr(tuple, c->account_id, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);
	memcpy(&account, DatumGetPfidP(d), sizeof(Pfid));
	d = heap_getattr(tuple, c->instance_id, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);
	memcpy(&instance, DatumGetPfidP(d), sizeof(Pfid));
	span_type = heap_getattr(tuple, c->span_type, desc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);

	prefactor_lock_run(&account, &instance, &run);
	prefactor_require_active(&instance, run.status);
	check_started_in_run(rel, tuple, c, &account, &instance, run.started_at);

	declared = prefactor_lookup_span_type(&account, &run.schema_version,
										  TextDatumGetCString(span_type), &span_type_id);
	attnums[n] = c->span_type_id;
	values[n] = declared ? PfidPGetDatum(&span_type_id) : (Datum) 0;
	nulls[n++] = !declared;
	/* the revision the run is scored under, so aggregates need no join */
	attnums[n] = c->risk_profile_revision_id;
	values[n] = run.has_revision ? PfidPGetDatum(&run.revision) : (Datum) 0;
	nulls[n++] = !run.has_revision;
	/* live scoring: the run's total after this span; a raise writes the run row now */
	{
		RiskSpanScore score = {0};
		bool		isnull_id;

		if (run.has_revision && declared)
		{
			Datum		started = heap_getattr(tuple, c->started_at, desc, &isnull);
			Datum		id = heap_getattr(tuple, c->id, desc, &isnull_id);

			score = risk_score_span(rel, &account, &instance, isnull_id ? NULL : DatumGetPfidP(id),
									&span_type_id, &run,
									isnull ? GetCurrentTransactionStartTimestamp() : DatumGetTimestampTz(started));
		}
		attnums[n] = c->risk_total;
		values[n] = score.scored ? NumericGetDatum(score.total) : (Datum) 0;
		nulls[n++] = !score.scored;
		attnums[n] = c->raised_run_risk;
		values[n] = BoolGetDatum(score.raises);
		nulls[n++] = !score.scored;
		/* the span that terminated its run is closed with the run's other open spans */
		if (score.terminated && span_is_open(tuple, desc, c))
		{
			attnums[n] = c->status;
			values[n] = CStringGetTextDatum("cancelled");
			nulls[n++] = false;
			attnums[n] = c->finished_at;
			values[n] = TimestampTzGetDatum(score.finished_at);
			nulls[n++] = false;
		}
	}

	if (prefactor_validate_spans)
	{
		SpanValidation how = prefactor_span_validation(&account, declared ? &span_type_id : NULL);

		attnums[n] = c->conformance[CONF_VALIDATION];
		values[n] = CStringGetTextDatum(span_validation_names[how]);
		nulls[n++] = false;
		if (how == SPAN_VALIDATED)
		{
			int			validation_slot = n - 1;

			for (int part = 0; part < 2; part++)
			{
				bool		is_result = part == 1;
				Datum		doc = heap_getattr(tuple, is_result ? c->result : c->payload, desc, &isnull);
				bool		conforms;
				SpanValidation got;

				if (isnull)
					continue;	/* no result yet: validated when the span is finished */
				got = prefactor_validate_span_part(&account, &span_type_id, is_result,
												   DatumGetJsonbP(doc), &conforms,
												   &values[n + 1], &nulls[n + 1]);
				attnums[n] = c->conformance[is_result ? CONF_RESULT_CONFORMS : CONF_PAYLOAD_CONFORMS];
				values[n] = BoolGetDatum(conforms);
				/* a limit stopped it: no verdict, the errors say why */
				nulls[n] = got != SPAN_VALIDATED;
				if (got != SPAN_VALIDATED)
					values[validation_slot] = CStringGetTextDatum(span_validation_names[got]);
				attnums[n + 1] = c->conformance[is_result ? CONF_RESULT_ERRORS : CONF_PAYLOAD_ERRORS];
				n += 2;
			}
		}
	}
	tuple = heap_modify_tuple_by_cols(tuple, desc, n, attnums, values, nulls);
	check_span_row(rel, tuple, c, true);
	return PointerGetDatum(tuple);
}

/* True when the column holds the same value in both tuples. */
bool
prefactor_column_unchanged(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, int attnum)
{
	Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
	bool		oldnull,
				newnull;
	Datum		o = heap_getattr(oldtup, attnum, desc, &oldnull);
	Datum		n = heap_getattr(newtup, attnum, desc, &newnull);

	if (oldnull || newnull)
		return oldnull == newnull;
	return datumIsEqual(o, n, att->attbyval, att->attlen);
}

/*
 * Raises unless the span's run is open. A finishing run closes its spans
 * while its row still shows it open; once it is finished, none of its spans
 * changes. The run is read (through its primary key, with the latest
 * snapshot), not locked: a run finish holds the run and then waits for span
 * rows, so locking here, after the span row, could deadlock; a finish that
 * commits first has already closed this span.
 */
static void
require_run_open(Relation rel, HeapTuple span, const SpanColumns *c)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	Relation	instances;
	TupleTableSlot *slot;
	char	   *status = NULL;
	Oid			relid;

	find_run_table(RelationGetNamespace(rel));
	relid = prefactor_citus_local_relid(run_table);
	if (!OidIsValid(relid))
	{
		/* on Citus outside the account's shard scope: asked through the executor (one account's shard) */
		static SPIPlanPtr plan = NULL;
		Oid			types[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};
		Datum		values[2];
		MemoryContext caller = CurrentMemoryContext;

		values[0] = heap_getattr(span, c->account_id, desc, &isnull);
		values[1] = heap_getattr(span, c->instance_id, desc, &isnull);
		SPI_connect();
		prefactor_spi_execute(&plan,
							  "SELECT i.status FROM prefactor.instances i"
							  " WHERE i.account_id OPERATOR(prefactor.=) $1 AND i.id OPERATOR(prefactor.=) $2",
							  2, types, values, NULL, true, 1);
		if (SPI_processed == 1)
		{
			char	   *found = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

			status = found ? MemoryContextStrdup(caller, found) : NULL;
		}
		SPI_finish();
	}
	else
	{
		instances = table_open(relid, AccessShareLock);
		slot = table_slot_create(instances, NULL);
		if (prefactor_index_first(instances, RelationGetPrimaryKeyIndex(instances),
								  DatumGetPfidP(heap_getattr(span, c->account_id, desc, &isnull)),
								  DatumGetPfidP(heap_getattr(span, c->instance_id, desc, &isnull)),
								  ForwardScanDirection, NULL, slot))
		{
			Datum		d = slot_getattr(slot, attnameAttNum(instances, "status", false), &isnull);

			if (!isnull)
				status = TextDatumGetCString(d);
		}
		ExecDropSingleTupleTableSlot(slot);
		table_close(instances, AccessShareLock);
	}
	if (status != NULL && !prefactor_status_open(status))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("span %s belongs to a finished run (%s) and cannot change",
						SPI_getvalue(span, desc, c->id), status),
				 errhint("Finishing a run closes its open spans; finished runs are part of the audit trail.")));
}

/*
 * Whether an update only links a span to the parent it awaited: parent_ref
 * (the client's id of a parent not stored when the span arrived) set and
 * parent_span_id NULL before; parent_span_id set and parent_ref cleared
 * after; every other column as it was. A child may arrive before its parent
 * (OTLP exports spans as they end); the link adds what the span already said.
 */
static bool
is_parent_link(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, const SpanColumns *c)
{
	if (heap_attisnull(oldtup, c->parent_ref, desc) || !heap_attisnull(oldtup, c->parent_span_id, desc) ||
		!heap_attisnull(newtup, c->parent_ref, desc) || heap_attisnull(newtup, c->parent_span_id, desc))
		return false;
	for (int att = 1; att <= desc->natts; att++)
		if (att != c->parent_ref && att != c->parent_span_id && !TupleDescAttr(desc, att - 1)->attisdropped &&
			!prefactor_column_unchanged(oldtup, newtup, desc, att))
			return false;
	return true;
}

/*
 * A parent link never closes a cycle: the new parent is not the span itself
 * nor one of its descendants (the parent's ancestors are walked up).
 */
static void
check_link_acyclic(Relation rel, HeapTuple newtup, const SpanColumns *c)
{
	static SPIPlanPtr plan = NULL;
	TupleDesc	desc = RelationGetDescr(rel);
	Oid			pf = prefactor_pfid_oid();
	Oid			types[3] = {pf, pf, pf};
	Datum		values[3];
	bool		isnull;
	bool		cycle;

	values[0] = heap_getattr(newtup, c->account_id, desc, &isnull);
	values[1] = heap_getattr(newtup, c->parent_span_id, desc, &isnull);
	values[2] = heap_getattr(newtup, c->id, desc, &isnull);
	SPI_connect();
	prefactor_spi_execute(&plan,
						  "WITH RECURSIVE up(id, parent) AS ("
						  " SELECT s.id, s.parent_span_id FROM prefactor.spans s"
						  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2"
						  " UNION"
						  " SELECT s.id, s.parent_span_id FROM up JOIN prefactor.spans s"
						  " ON s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) up.parent)"
						  " SELECT EXISTS (SELECT FROM up WHERE up.id OPERATOR(prefactor.=) $3)",
						  3, types, values, NULL, true, 1);
	cycle = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (cycle)
		prefactor_rule_violated(rel, "spans_parent_acyclic",
								"The awaited parent is the span itself or one of its descendants.");
}

PG_FUNCTION_INFO_V1(prefactor_spans_before_update);
Datum
prefactor_spans_before_update(PG_FUNCTION_ARGS)
{
	TriggerData *td = prefactor_check_trigger_call(fcinfo, "spans_before_update", false);
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	HeapTuple	oldtup = td->tg_trigtuple;
	HeapTuple	newtup = td->tg_newtuple;
	const SpanColumns *c = span_columns(td->tg_relation);
	bool		isnull;
	char	   *old_status = TextDatumGetCString(heap_getattr(oldtup, c->status, desc, &isnull));
	const int	fixed[] = {c->account_id, c->id, c->instance_id, c->parent_span_id, c->parent_ref, c->span_type,
	c->payload, c->started_at, c->span_type_id, c->risk_profile_revision_id, c->risk_total, c->raised_run_risk};

	/* the link to an awaited parent, finished span or not, while the run is open */
	if (is_parent_link(oldtup, newtup, desc, c))
	{
		require_run_open(td->tg_relation, oldtup, c);
		check_link_acyclic(td->tg_relation, newtup, c);
		return PointerGetDatum(newtup);
	}
	if (!prefactor_status_open(old_status))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("span %s is finished (%s) and cannot change",
						SPI_getvalue(oldtup, desc, c->id), old_status),
				 errhint("Finished spans are part of the audit trail.")));
	require_run_open(td->tg_relation, oldtup, c);
	for (int i = 0; i < lengthof(fixed); i++)
		if (!prefactor_column_unchanged(oldtup, newtup, desc, fixed[i]))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("only the status, result and finish time of a span can change"),
					 errdetail("Column \"%s\" was changed.",
							   NameStr(TupleDescAttr(desc, fixed[i] - 1)->attname))));
	for (int i = 0; i < 5; i++)
		if (!prefactor_column_unchanged(oldtup, newtup, desc, c->conformance[i]))
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("conformance columns of a span are computed, not written"),
					 errdetail("Column \"%s\" was given a value.",
							   NameStr(TupleDescAttr(desc, c->conformance[i] - 1)->attname))));

	/* a result that arrives with the finish is validated now */
	if (!prefactor_column_unchanged(oldtup, newtup, desc, c->result))
	{
		Datum		validation = heap_getattr(oldtup, c->conformance[CONF_VALIDATION], desc, &isnull);

		if (!isnull && strcmp(TextDatumGetCString(validation), "validated") == 0)
		{
			Pfid		account;
			Pfid		span_type_id;
			Datum		result = heap_getattr(newtup, c->result, desc, &isnull);
			int			attnums[3] = {c->conformance[CONF_RESULT_CONFORMS], c->conformance[CONF_RESULT_ERRORS],
			c->conformance[CONF_VALIDATION]};
			Datum		values[3] = {0, 0, validation};
			bool		nulls[3] = {true, true, false};
			bool		conforms;
			SpanValidation got = SPAN_VALIDATED;

			if (!isnull)
			{
				bool		typenull;

				memcpy(&account, DatumGetPfidP(heap_getattr(oldtup, c->account_id, desc, &typenull)),
					   sizeof(Pfid));
				memcpy(&span_type_id, DatumGetPfidP(heap_getattr(oldtup, c->span_type_id, desc, &typenull)),
					   sizeof(Pfid));
				prefactor_caches_check(TupleDescAttr(desc, c->account_id - 1)->atttypid);
				got = prefactor_validate_span_part(&account, &span_type_id, true, DatumGetJsonbP(result),
												   &conforms, &values[1], &nulls[1]);
				values[0] = BoolGetDatum(conforms);
				/* a limit stopped it: no verdict, the span is not validated */
				nulls[0] = got != SPAN_VALIDATED;
				if (got != SPAN_VALIDATED)
					values[2] = CStringGetTextDatum(span_validation_names[got]);
			}
			newtup = heap_modify_tuple_by_cols(newtup, desc, 3, attnums, values, nulls);
		}
	}
	check_span_row(td->tg_relation, newtup, c, false);
	return PointerGetDatum(newtup);
}
