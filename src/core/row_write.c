/*
 * row_write.c
 *	  One row inserted or updated through the table AM, the way logical
 *	  replication applies a change (ExecSimpleRelationInsert/Update): the
 *	  row's BEFORE and AFTER ROW triggers, its constraints, indexes and
 *	  foreign keys apply exactly as for an INSERT or UPDATE statement, but
 *	  no statement is planned, started and ended. The span calls write this
 *	  way (src/api/span_api.c): a planned statement's start-up and end cost
 *	  about as much as the write itself.
 *
 *	  prefactor_row_write_begin says when a statement must be run instead:
 *	  in a repeatable-read or serializable transaction (the executor's
 *	  serialization checks), for a Citus table outside its account's shard
 *	  scope (citus_compat.c; inside it, the shard here is written), and
 *	  for a table with statement-level or INSTEAD OF triggers or transition
 *	  tables (which only a statement fires).
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "rewrite/rewriteHandler.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/citus_compat.h"
#include "core/index_read.h"
#include "core/key_check.h"
#include "core/row_write.h"

/* Triggers that only a statement fires, for INSERT or UPDATE. */
static bool
statement_only_triggers(TriggerDesc *trig, CmdType cmd)
{
	if (trig == NULL)
		return false;
	if (cmd == CMD_INSERT)
		return trig->trig_insert_before_statement || trig->trig_insert_after_statement ||
			trig->trig_insert_instead_row || trig->trig_insert_new_table;
	return trig->trig_update_before_statement || trig->trig_update_after_statement ||
		trig->trig_update_instead_row || trig->trig_update_old_table || trig->trig_update_new_table;
}

static void drop_triggers(RowWrite *w, bool (*drop) (RowWrite *w, const Trigger *trigger));
static bool take_direct_key(RowWrite *w, const Trigger *trigger);

/*
 * Opens a table for one row write; false (nothing opened) when the caller
 * must run a statement instead (see the file's header).
 */
bool
prefactor_row_write_begin(RowWrite *w, Oid relid, CmdType cmd)
{
	Relation	rel;
	RangeTblEntry *rte;

	memset(w, 0, sizeof(*w));
	if (IsolationUsesXactSnapshot())
		return false;
	/* a Citus table's rows are written in the account's shard here, in its shard scope */
	relid = prefactor_citus_local_relid(relid);
	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, RowExclusiveLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION || statement_only_triggers(rel->trigdesc, cmd))
	{
		table_close(rel, NoLock);
		return false;
	}

	/* the write sees what the transaction did before, as a statement would */
	CommandCounterIncrement();
	w->rel = rel;
	w->cmd = cmd;
	w->estate = CreateExecutorState();
	w->estate->es_snapshot = RegisterSnapshot(GetLatestSnapshot());
	w->estate->es_output_cid = GetCurrentCommandId(true);
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(w->estate, list_make1(rte));
	w->rri = makeNode(ResultRelInfo);
	ExecInitResultRelation(w->estate, w->rri, 1);
	ExecOpenIndices(w->rri, false);
	if (cmd == CMD_UPDATE)
		EvalPlanQualInit(&w->epq, w->estate, NULL, NIL, -1);
	/* the AFTER ROW triggers (foreign keys) fire at prefactor_row_write_end */
	AfterTriggerBeginQuery();
	return true;
}

/*
 * The caller holds the row of relid with this two-pfid key locked FOR NO KEY
 * UPDATE (or stronger) until the transaction ends, as the span calls hold
 * their run: a new row referencing it needs no key check, which would only
 * find it and lock it again, more weakly.
 */
void
prefactor_row_write_holds(RowWrite *w, Oid relid, const Pfid *first, const Pfid *second)
{
	w->held_relid = relid;
	w->held_key[0] = *first;
	w->held_key[1] = *second;
}

/* Whether a key of the stored row references the row the caller holds. */
static bool
key_held(RowWrite *w, const DirectKey *key, TupleTableSlot *row)
{
	bool		isnull;
	Datum		d;

	if (!OidIsValid(w->held_relid) || key->confrelid != w->held_relid)
		return false;
	for (int i = 0; i < 2; i++)
	{
		d = slot_getattr(row, key->conkey[i], &isnull);
		if (isnull || memcmp(DatumGetPointer(d), &w->held_key[i], sizeof(Pfid)) != 0)
			return false;
	}
	return true;
}

/*
 * Inserts a row: values[i] for the columns given[i], the column default
 * for the others. Returns the row as stored (after the BEFORE triggers), or
 * NULL when a BEFORE trigger skipped it.
 */
TupleTableSlot *
prefactor_row_insert(RowWrite *w, const Datum *values, const bool *nulls, const bool *given)
{
	TupleDesc	desc = RelationGetDescr(w->rel);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(w->estate, desc, &TTSOpsVirtual);

	ExecClearTuple(slot);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		slot->tts_values[i] = (Datum) 0;
		slot->tts_isnull[i] = true;
		if (given[i])
		{
			slot->tts_values[i] = values[i];
			slot->tts_isnull[i] = nulls[i];
		}
		else if (att->atthasdef && !att->attgenerated && !att->attisdropped)
		{
			Expr	   *expr = (Expr *) build_column_default(w->rel, i + 1);

			if (expr != NULL)
				slot->tts_values[i] = ExecEvalExprSwitchContext(ExecPrepareExpr(expr, w->estate),
																GetPerTupleExprContext(w->estate),
																&slot->tts_isnull[i]);
		}
	}
	ExecStoreVirtualTuple(slot);
	ItemPointerSetInvalid(&slot->tts_tid);
	/* the two-pfid keys are checked through their indexes (key_check.c), not by the RI trigger */
	w->ndirect_keys = 0;
	if (w->rri->ri_TrigDesc != NULL && w->rri->ri_TrigDesc->trig_insert_after_row)
		drop_triggers(w, take_direct_key);
	ExecSimpleRelationInsert(w->rri, w->estate, slot);
	if (!ItemPointerIsValid(&slot->tts_tid))
		return NULL;
	for (int i = 0; i < w->ndirect_keys; i++)
		if (!key_held(w, &w->direct_keys[i], slot))
			prefactor_key_check(w->rel, &w->direct_keys[i], slot);
	w->row = slot;
	return slot;
}

/*
 * Finds a row by a two-pfid key through an index and locks its latest
 * version FOR NO KEY UPDATE, waiting for a concurrent writer, as an UPDATE
 * in READ COMMITTED does. False when there is no such row.
 */
bool
prefactor_row_lock(RowWrite *w, Oid index_oid, const Pfid *first, const Pfid *second)
{
	ItemPointerData tid;

	w->old = table_slot_create(w->rel, &w->estate->es_tupleTable);
	if (!prefactor_index_first(w->rel, index_oid, first, second, ForwardScanDirection, NULL, w->old))
		return false;
	tid = w->old->tts_tid;
	return prefactor_lock_latest(w->rel, &tid, w->old);
}

/*
 * Locks the latest version of the row at tid, found before (the caller
 * checks it is the row it wants), as prefactor_row_lock does.
 */
bool
prefactor_row_lock_at(RowWrite *w, ItemPointer tid)
{
	ItemPointerData at = *tid;

	w->old = table_slot_create(w->rel, &w->estate->es_tupleTable);
	return prefactor_lock_latest(w->rel, &at, w->old);
}

/*
 * Locks the latest version of the row at tid FOR NO KEY UPDATE, waiting for
 * a concurrent writer, as an UPDATE or SELECT ... FOR NO KEY UPDATE in READ
 * COMMITTED does; the slot receives that version. False when it is gone or
 * was changed by this transaction since (then search it again).
 */
bool
prefactor_lock_latest(Relation rel, ItemPointer tid, TupleTableSlot *slot)
{
	TM_FailureData tmfd;

	return table_tuple_lock(rel, tid, GetLatestSnapshot(), slot, GetCurrentCommandId(true),
							LockTupleNoKeyExclusive, LockWaitBlock,
							TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS | TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							&tmfd) == TM_Ok;
}

/*
 * Whether the foreign keys of rel are all checked by the time a write ends
 * (prefactor_row_write_end, or a statement): none of them is deferrable.
 */
bool
prefactor_row_keys_checked_at_end(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;

	for (int i = 0; trig != NULL && i < trig->numtriggers; i++)
		if (RI_FKey_trigger_type(trig->triggers[i].tgfoid) == RI_TRIGGER_FK && trig->triggers[i].tgdeferrable)
			return false;
	return true;
}

/* Whether the update sets a column of one of the table's foreign keys. */
static bool
sets_key_column(Relation rel, int n, const int *attnums)
{
	ListCell   *lc;

	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);

		if (fk->conrelid != RelationGetRelid(rel))
			continue;
		for (int k = 0; k < fk->nkeys; k++)
			for (int i = 0; i < n; i++)
				if (fk->conkey[k] == attnums[i])
					return true;
	}
	return false;
}

/*
 * Keeps in the write's trigger list only the triggers for which drop says
 * false (the list is the ResultRelInfo's own copy; the functions and WHEN
 * clauses it caches by position start afresh).
 */
static void
drop_triggers(RowWrite *w, bool (*drop) (RowWrite *w, const Trigger *trigger))
{
	TriggerDesc *trig = w->rri->ri_TrigDesc;
	TriggerDesc *kept;
	MemoryContext cxt = w->estate->es_query_cxt;

	kept = MemoryContextAlloc(cxt, sizeof(TriggerDesc));
	memcpy(kept, trig, sizeof(TriggerDesc));
	kept->triggers = MemoryContextAlloc(cxt, sizeof(Trigger) * Max(trig->numtriggers, 1));
	kept->numtriggers = 0;
	for (int i = 0; i < trig->numtriggers; i++)
		if (!drop(w, &trig->triggers[i]))
			kept->triggers[kept->numtriggers++] = trig->triggers[i];
	w->rri->ri_TrigDesc = kept;
	w->rri->ri_TrigFunctions = MemoryContextAllocZero(cxt, sizeof(FmgrInfo) * Max(kept->numtriggers, 1));
	w->rri->ri_TrigWhenExprs = MemoryContextAllocZero(cxt, sizeof(ExprState *) * Max(kept->numtriggers, 1));
	w->rri->ri_TrigInstrument = NULL;
}

static bool
is_key_check(RowWrite *w, const Trigger *trigger)
{
	return RI_FKey_trigger_type(trigger->tgfoid) == RI_TRIGGER_FK;
}

/*
 * Leaves out the foreign-key checks of an update (w->keys_checked): PostgreSQL
 * checks the keys again whenever the version replaced was written by the
 * same transaction, because that version's own check may still be queued
 * (and is skipped once it is replaced). When the caller knows the check of
 * that version has run, and the update sets no key column, the new version
 * has the same, checked keys, and the parent rows stay locked by the first
 * check until the transaction ends. Not when a BEFORE UPDATE trigger of
 * someone else's could change a key (prefactor_only_own_update_triggers).
 */
static void
skip_checked_keys(RowWrite *w, int n, const int *attnums)
{
	if (w->rri->ri_TrigDesc == NULL || sets_key_column(w->rel, n, attnums) ||
		!prefactor_row_keys_checked_at_end(w->rel) || !prefactor_only_own_update_triggers(w->rel))
		return;
	drop_triggers(w, is_key_check);
}

/* An insert's key check that key_check.c does instead: noted in w->direct_keys. */
static bool
take_direct_key(RowWrite *w, const Trigger *trigger)
{
	const DirectKey *key;

	/* a key has a check trigger for INSERT and one for UPDATE: only the first fires here */
	if (!TRIGGER_FOR_INSERT(trigger->tgtype))
		return false;
	key = prefactor_direct_key_of(w->rel, trigger);
	if (key == NULL || w->ndirect_keys == PREFACTOR_DIRECT_KEYS_MAX)
		return false;
	w->direct_keys[w->ndirect_keys++] = *key;
	return true;
}

/*
 * Updates the row prefactor_row_lock locked: its values with the n columns
 * attnums[] set. Returns the row as stored, or NULL when a BEFORE trigger
 * skipped the update.
 */
TupleTableSlot *
prefactor_row_update(RowWrite *w, int n, const int *attnums, const Datum *values, const bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(w->rel);
	TupleTableSlot *slot = ExecInitExtraTupleSlot(w->estate, desc, &TTSOpsVirtual);
	RangeTblEntry *rte = exec_rt_fetch(w->rri->ri_RangeTableIndex, w->estate);

	slot_getallattrs(w->old);
	ExecClearTuple(slot);
	memcpy(slot->tts_values, w->old->tts_values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, w->old->tts_isnull, sizeof(bool) * desc->natts);
	for (int i = 0; i < n; i++)
	{
		slot->tts_values[attnums[i] - 1] = values[i];
		slot->tts_isnull[attnums[i] - 1] = nulls[i];
		/* the columns set, as an UPDATE's: they choose the lock and UPDATE OF triggers */
		rte->updatedCols = bms_add_member(rte->updatedCols, attnums[i] - FirstLowInvalidHeapAttributeNumber);
	}
	ExecStoreVirtualTuple(slot);
	ItemPointerSetInvalid(&slot->tts_tid);
	if (w->keys_checked)
		skip_checked_keys(w, n, attnums);
	ExecSimpleRelationUpdate(w->rri, w->estate, &w->epq, w->old, slot);
	if (!ItemPointerIsValid(&slot->tts_tid))
		return NULL;
	w->row = slot;
	return slot;
}

/*
 * Fires the AFTER ROW triggers (foreign key checks) and closes what begin
 * opened; the rows and slots are gone afterwards. The transaction's next
 * command sees the write.
 */
void
prefactor_row_write_end(RowWrite *w)
{
	AfterTriggerEndQuery(w->estate);
	if (w->cmd == CMD_UPDATE)
		EvalPlanQualEnd(&w->epq);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	ExecCloseResultRelations(w->estate);
	ExecCloseRangeTableRelations(w->estate);
	UnregisterSnapshot(w->estate->es_snapshot);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	CommandCounterIncrement();
	w->row = w->old = NULL;
}
