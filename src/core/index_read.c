/*
 * index_read.c
 *	  Reads of one row by a composite (account_id, id)-style key through the
 *	  index AM, without a planned query: the span path asks such questions
 *	  for every span (its run's status, its run's running risk total), and a
 *	  query's start-up would cost more than the read itself.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_am_d.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/caches.h"
#include "core/index_read.h"

/*
 * The snapshot of a read: the one given, or when NULL the latest (what every
 * transaction that committed so far wrote, whatever the caller's isolation
 * level). SnapshotSelf also sees what the current command stored, which a
 * snapshot does not: the rows of the same multi-row INSERT or COPY.
 */
static Snapshot
read_snapshot(Snapshot given)
{
	return given ? given : RegisterSnapshot(GetLatestSnapshot());
}

static void
read_snapshot_done(Snapshot given, Snapshot used)
{
	if (given == NULL)
		UnregisterSnapshot(used);
}

/*
 * The pfid equality function of an index's leading column's operator family,
 * looked up once per family (every read of a row by its key asks for it).
 */
static FmgrInfo *
pfid_equality(Relation index)
{
	static Oid	family = InvalidOid;
	static Oid	pfid_of = InvalidOid;
	static FmgrInfo eq;
	Oid			pfid = prefactor_pfid_oid();

	if (index->rd_opfamily[0] != family || pfid != pfid_of)
	{
		RegProcedure proc = get_opcode(get_opfamily_member(index->rd_opfamily[0], pfid, pfid,
														   BTEqualStrategyNumber));

		if (!RegProcedureIsValid(proc))
			elog(ERROR, "index \"%s\" does not lead with pfid columns", RelationGetRelationName(index));
		fmgr_info_cxt(proc, &eq, TopMemoryContext);
		family = index->rd_opfamily[0];
		pfid_of = pfid;
	}
	return &eq;
}

/*
 * The first row, in the given direction, of an index whose two leading
 * columns are pfids equal to first and second (second NULL: whose leading
 * column equals first), read with the snapshot given
 * (NULL: the latest, see read_snapshot); false if none. The row is stored in
 * slot, which the caller made for heap (table_slot_create).
 */
bool
prefactor_index_first(Relation heap, Oid index_oid, const Pfid *first, const Pfid *second,
					  ScanDirection direction, Snapshot given, TupleTableSlot *slot)
{
	Relation	index = index_open(index_oid, AccessShareLock);
	FmgrInfo   *eq = pfid_equality(index);
	ScanKeyData keys[2];
	Snapshot	snapshot = read_snapshot(given);
	IndexScanDesc scan;
	bool		found;

	ScanKeyEntryInitializeWithInfo(&keys[0], 0, 1, BTEqualStrategyNumber, InvalidOid, InvalidOid, eq,
								   PfidPGetDatum(first));
	if (second != NULL)
		ScanKeyEntryInitializeWithInfo(&keys[1], 0, 2, BTEqualStrategyNumber, InvalidOid, InvalidOid, eq,
									   PfidPGetDatum(second));
	scan = index_beginscan(heap, index, snapshot, second ? 2 : 1, 0);
	index_rescan(scan, keys, second ? 2 : 1, NULL, 0);
	found = index_getnext_slot(scan, direction, slot);
	index_endscan(scan);
	read_snapshot_done(given, snapshot);
	index_close(index, AccessShareLock);
	return found;
}

/* How many entries from the end of a range prefactor_index_last tries. */
#define LAST_CANDIDATES 8

/*
 * The last row of an index's (first, second) range, read with the snapshot
 * given (see read_snapshot): the same answer as prefactor_index_first
 * backward. But a
 * backward btree scan reads every entry of the range on its leaf page, each
 * compared through the pfid functions, before it returns the last one: for
 * a run's running risk total that is hundreds of a run's spans to find one.
 * Here the btree is descended to the end of the range and its entries are
 * taken from there, newest first, until one is visible. The scan answers
 * instead when this cannot: a range that goes on to the left sibling page
 * past the entries tried, an index that is not a btree, a serializable
 * transaction (which the scan's predicate locks serve).
 */
bool
prefactor_index_last(Relation heap, Oid index_oid, const Pfid *first, const Pfid *second,
					 Snapshot given, TupleTableSlot *slot)
{
	Relation	index;
	Snapshot	snapshot;
	BTScanInsert key;
	BTStack		stack;
	Buffer		buf;
	Page		page;
	BTPageOpaque opaque;
	OffsetNumber low;
	OffsetNumber high;
	OffsetNumber minoff;
	ItemPointerData tids[LAST_CANDIDATES];
	int			ntids = 0;
	bool		range_ends = false; /* every entry of the range was collected */
	bool		found = false;

	if (IsolationIsSerializable())
		return prefactor_index_first(heap, index_oid, first, second, BackwardScanDirection, given, slot);
	index = index_open(index_oid, AccessShareLock);
	if (index->rd_rel->relam != BTREE_AM_OID || IndexRelationGetNumberOfKeyAttributes(index) < 2)
	{
		index_close(index, AccessShareLock);
		return prefactor_index_first(heap, index_oid, first, second, BackwardScanDirection, given, slot);
	}
	snapshot = read_snapshot(given);

	/* an insertion key on the two leading columns, positioned after their last entry */
	key = _bt_mkscankey(index, NULL);
	_bt_metaversion(index, &key->heapkeyspace, &key->allequalimage);
	key->scankeys[0].sk_argument = PfidPGetDatum(first);
	key->scankeys[0].sk_flags &= ~SK_ISNULL;
	key->scankeys[1].sk_argument = PfidPGetDatum(second);
	key->scankeys[1].sk_flags &= ~SK_ISNULL;
	key->keysz = 2;
	key->anynullkeys = false;
	key->nextkey = true;
	key->pivotsearch = false;
	key->scantid = NULL;
	stack = _bt_search(index, key, &buf, BT_READ, snapshot);
	if (!BufferIsValid(buf))
		range_ends = true;		/* an empty index */
	else
	{
		page = BufferGetPage(buf);
		opaque = (BTPageOpaque) PageGetSpecialPointer(page);
		minoff = P_FIRSTDATAKEY(opaque);
		/* the first entry above the range (nextkey: no entry of the range lies right of this page) */
		low = minoff;
		high = PageGetMaxOffsetNumber(page) + 1;
		while (low < high)
		{
			OffsetNumber mid = low + (high - low) / 2;

			if (_bt_compare(index, key, page, mid) >= 0)
				low = mid + 1;
			else
				high = mid;
		}
		/* the range's entries, newest (highest) first */
		for (OffsetNumber off = low; ntids < LAST_CANDIDATES; off--)
		{
			ItemId		item;
			IndexTuple	itup;

			if (off <= minoff)
			{
				range_ends = P_LEFTMOST(opaque);
				break;
			}
			if (_bt_compare(index, key, page, off - 1) != 0)
			{
				range_ends = true;
				break;
			}
			item = PageGetItemId(page, off - 1);
			if (ItemIdIsDead(item))
				continue;		/* known dead to every transaction */
			itup = (IndexTuple) PageGetItem(page, item);
			if (BTreeTupleIsPosting(itup))
			{
				for (int i = BTreeTupleGetNPosting(itup) - 1; i >= 0 && ntids < LAST_CANDIDATES; i--)
					tids[ntids++] = *BTreeTupleGetPostingN(itup, i);
				if (ntids == LAST_CANDIDATES)
					break;
			}
			else
				tids[ntids++] = itup->t_tid;
		}
		_bt_relbuf(index, buf);
	}
	_bt_freestack(stack);
	pfree(key);

	if (ntids > 0)
	{
		IndexFetchTableData *fetch = table_index_fetch_begin(heap);

		for (int i = 0; i < ntids && !found; i++)
		{
			bool		call_again = false;
			bool		all_dead = false;

			found = table_index_fetch_tuple(fetch, &tids[i], snapshot, slot, &call_again, &all_dead);
		}
		table_index_fetch_end(fetch);
	}
	read_snapshot_done(given, snapshot);
	index_close(index, AccessShareLock);
	if (!found && !range_ends)
		return prefactor_index_first(heap, index_oid, first, second, BackwardScanDirection, given, slot);
	return found;
}
