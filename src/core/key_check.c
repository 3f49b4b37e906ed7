/*
 * key_check.c
 *	  Foreign-key checks of a row written through the table AM (row_write.c),
 *	  done through the index AM instead of PostgreSQL's RI trigger, which runs
 *	  a planned query through SPI for each key of each row: for a span stored
 *	  by the API that is two queries (its run, its span type), more than the
 *	  rest of the span's write costs.
 *
 *	  A key is checked here when it is two pfid columns referencing a unique
 *	  index of exactly those two columns (every (account_id, id) reference),
 *	  is not deferrable and its check trigger would fire now. The check is the
 *	  RI trigger's, in READ COMMITTED (row_write runs no other isolation): the
 *	  referenced row's latest version is found through its index and locked
 *	  FOR KEY SHARE, waiting for a concurrent writer, so that it cannot be
 *	  deleted or its key changed before this transaction ends; a key with a
 *	  NULL column is not checked (MATCH SIMPLE); no row, or a row deleted
 *	  meanwhile, is a foreign_key_violation with the trigger's message. Like
 *	  the trigger, the check reads as the system (no row-level security).
 *
 *	  The same per-table entry answers whether a table's BEFORE UPDATE
 *	  triggers are all the extension's own, which row_write.c needs before it
 *	  skips a second check of keys an update does not set.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "core/caches.h"
#include "core/index_read.h"
#include "core/key_check.h"

/* The keys found per table, until its relcache entry is invalidated. */
typedef struct TableKeys
{
	Oid			relid;
	int			nkeys;
	DirectKey	keys[PREFACTOR_DIRECT_KEYS_MAX];
	bool		only_own_update_triggers;	/* see prefactor_only_own_update_triggers */
} TableKeys;

#define TABLE_KEYS_MAX 8
static TableKeys table_keys[TABLE_KEYS_MAX];
static int	table_keys_count = 0;

static void
table_keys_invalidated(Datum arg, Oid relid)
{
	/* a table's keys change with its own relcache entry; simplest to start over */
	table_keys_count = 0;
}

/* Whether an index has exactly the two key columns given, in order. */
static bool
index_is_exactly(Oid index_oid, AttrNumber first, AttrNumber second)
{
	HeapTuple	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index_oid));
	Form_pg_index index;
	bool		exact;

	if (!HeapTupleIsValid(tuple))
		return false;
	index = (Form_pg_index) GETSTRUCT(tuple);
	exact = index->indisunique && index->indnkeyatts == 2 && index->indkey.values[0] == first &&
		index->indkey.values[1] == second && heap_attisnull(tuple, Anum_pg_index_indexprs, NULL) &&
		heap_attisnull(tuple, Anum_pg_index_indpred, NULL);
	ReleaseSysCache(tuple);
	return exact;
}

static bool
own_update_triggers(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;
	Oid			extension = getExtensionOfObject(RelationRelationId, RelationGetRelid(rel));

	if (!OidIsValid(extension))
		return false;
	for (int i = 0; trig != NULL && i < trig->numtriggers; i++)
	{
		int16		type = trig->triggers[i].tgtype;

		if (TRIGGER_FOR_ROW(type) && TRIGGER_FOR_BEFORE(type) && TRIGGER_FOR_UPDATE(type) &&
			getExtensionOfObject(ProcedureRelationId, trig->triggers[i].tgfoid) != extension)
			return false;
	}
	return true;
}

/* The keys of rel checked here (see the file's header), found once per table. */
static const TableKeys *
keys_of(Relation rel)
{
	TableKeys  *entry;
	Oid			pfid = prefactor_pfid_oid();
	ListCell   *lc;

	for (int i = 0; i < table_keys_count; i++)
		if (table_keys[i].relid == RelationGetRelid(rel))
			return &table_keys[i];
	prefactor_on_relcache_invalidation(table_keys_invalidated, (Datum) 0);
	if (table_keys_count == TABLE_KEYS_MAX)
		table_keys_count = 0;
	entry = &table_keys[table_keys_count];
	entry->relid = InvalidOid;
	entry->nkeys = 0;
	foreach(lc, RelationGetFKeyList(rel))
	{
		ForeignKeyCacheInfo *fk = lfirst_node(ForeignKeyCacheInfo, lc);
		HeapTuple	tuple;
		Form_pg_constraint con;
		DirectKey  *key;

		if (fk->conrelid != RelationGetRelid(rel) || fk->nkeys != 2 ||
			TupleDescAttr(RelationGetDescr(rel), fk->conkey[0] - 1)->atttypid != pfid ||
			TupleDescAttr(RelationGetDescr(rel), fk->conkey[1] - 1)->atttypid != pfid ||
			entry->nkeys == PREFACTOR_DIRECT_KEYS_MAX)
			continue;
		tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(fk->conoid));
		if (!HeapTupleIsValid(tuple))
			continue;
		con = (Form_pg_constraint) GETSTRUCT(tuple);
		if (!con->condeferrable && con->confmatchtype == FKCONSTR_MATCH_SIMPLE &&
			index_is_exactly(con->conindid, fk->confkey[0], fk->confkey[1]))
		{
			key = &entry->keys[entry->nkeys++];
			key->conoid = fk->conoid;
			strlcpy(key->conname, NameStr(con->conname), NAMEDATALEN);
			key->confrelid = fk->confrelid;
			key->conindid = con->conindid;
			key->conkey[0] = fk->conkey[0];
			key->conkey[1] = fk->conkey[1];
			key->confkey[0] = fk->confkey[0];
			key->confkey[1] = fk->confkey[1];
		}
		ReleaseSysCache(tuple);
	}
	entry->only_own_update_triggers = own_update_triggers(rel);
	entry->relid = RelationGetRelid(rel);
	table_keys_count++;
	return entry;
}

/*
 * Whether every BEFORE UPDATE row trigger of rel calls a function of the
 * extension that owns rel: then no DBA's trigger can set a key column in an
 * update whose own columns are none (row_write.c's skip_checked_keys).
 * Adding or dropping a trigger invalidates the table's relcache entry, and
 * with it this answer.
 */
bool
prefactor_only_own_update_triggers(Relation rel)
{
	return keys_of(rel)->only_own_update_triggers;
}

/* Whether a trigger fires under the session's replication role (as TriggerEnabled decides). */
static bool
trigger_fires(const Trigger *trigger)
{
	if (trigger->tgenabled == TRIGGER_DISABLED)
		return false;
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return trigger->tgenabled != TRIGGER_FIRES_ON_ORIGIN;
	return trigger->tgenabled != TRIGGER_FIRES_ON_REPLICA;
}

/*
 * The key this module checks for an insert's RI trigger, or NULL when the
 * trigger is not such a check (or would not fire now).
 */
const DirectKey *
prefactor_direct_key_of(Relation rel, const Trigger *trigger)
{
	const TableKeys *keys;

	if (RI_FKey_trigger_type(trigger->tgfoid) != RI_TRIGGER_FK || !OidIsValid(trigger->tgconstraint) ||
		!trigger_fires(trigger))
		return NULL;
	keys = keys_of(rel);
	for (int i = 0; i < keys->nkeys; i++)
		if (keys->keys[i].conoid == trigger->tgconstraint)
			return &keys->keys[i];
	return NULL;
}

static bool
same_pfid_datum(Datum a, Datum b)
{
	return memcmp(DatumGetPointer(a), DatumGetPointer(b), sizeof(Pfid)) == 0;
}

/*
 * Checks one key of a row just stored in rel (see the file's header):
 * returns when the referenced row exists and is locked FOR KEY SHARE.
 */
void
prefactor_key_check(Relation rel, const DirectKey *key, TupleTableSlot *row)
{
	bool		null1;
	bool		null2;
	Datum		first = slot_getattr(row, key->conkey[0], &null1);
	Datum		second = slot_getattr(row, key->conkey[1], &null2);
	Relation	referenced;
	TupleTableSlot *slot;
	bool		found;

	if (null1 || null2)
		return;
	referenced = table_open(key->confrelid, RowShareLock);
	slot = table_slot_create(referenced, NULL);
	found = prefactor_index_first(referenced, key->conindid, DatumGetPfidP(first), DatumGetPfidP(second),
								  ForwardScanDirection, NULL, slot);
	if (found)
	{
		ItemPointerData tid = slot->tts_tid;
		TM_FailureData tmfd;
		bool		isnull;

		found = table_tuple_lock(referenced, &tid, GetLatestSnapshot(), slot, GetCurrentCommandId(false),
								 LockTupleKeyShare, LockWaitBlock,
								 TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS | TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
								 &tmfd) == TM_Ok &&
			same_pfid_datum(slot_getattr(slot, key->confkey[0], &isnull), first) &&
			same_pfid_datum(slot_getattr(slot, key->confkey[1], &isnull), second);
	}
	ExecDropSingleTupleTableSlot(slot);
	if (!found)
	{
		TupleDesc	desc = RelationGetDescr(rel);

		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("insert or update on table \"%s\" violates foreign key constraint \"%s\"",
						RelationGetRelationName(rel), key->conname),
				 errdetail("Key (%s, %s)=(%s, %s) is not present in table \"%s\".",
						   NameStr(TupleDescAttr(desc, key->conkey[0] - 1)->attname),
						   NameStr(TupleDescAttr(desc, key->conkey[1] - 1)->attname),
						   pfid_text(DatumGetPfidP(first)), pfid_text(DatumGetPfidP(second)),
						   RelationGetRelationName(referenced)),
				 errtableconstraint(rel, key->conname)));
	}
	table_close(referenced, NoLock);
}
