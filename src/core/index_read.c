/*
 * index_read.c
 *	  Reads of one row by a composite (account_id, id)-style key through the
 *	  index AM, without a planned query: the span path asks such questions
 *	  for every span (its run's status, its run's running risk total), and a
 *	  query's start-up would cost more than the read itself.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/tableam.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "core/caches.h"
#include "core/index_read.h"

/*
 * The first row, in the given direction, of an index whose two leading
 * columns are pfids equal to first and second, read with the latest snapshot
 * (what every transaction that committed so far wrote, whatever the
 * caller's isolation level); false if none. The row is stored in slot, which
 * the caller made for heap (table_slot_create).
 */
bool
prefactor_index_first(Relation heap, Oid index_oid, const Pfid *first, const Pfid *second,
					  ScanDirection direction, TupleTableSlot *slot)
{
	Relation	index = index_open(index_oid, AccessShareLock);
	Oid			pfid = prefactor_pfid_oid();
	RegProcedure eq = get_opcode(get_opfamily_member(index->rd_opfamily[0], pfid, pfid,
													 BTEqualStrategyNumber));
	ScanKeyData keys[2];
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	IndexScanDesc scan;
	bool		found;

	if (!RegProcedureIsValid(eq))
		elog(ERROR, "index \"%s\" does not lead with pfid columns", RelationGetRelationName(index));
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, eq, PfidPGetDatum(first));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, eq, PfidPGetDatum(second));
	scan = index_beginscan(heap, index, snapshot, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	found = index_getnext_slot(scan, direction, slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	return found;
}
