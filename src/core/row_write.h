/*
 * row_write.h
 *	  One row inserted or updated through the table AM, with its row
 *	  triggers, constraints, indexes and foreign keys (row_write.c).
 */
#ifndef PREFACTOR_ROW_WRITE_H
#define PREFACTOR_ROW_WRITE_H

#include "postgres.h"

#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "utils/relcache.h"

#include "core/key_check.h"
#include "core/pfid.h"

typedef struct RowWrite
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	EPQState	epq;
	TupleTableSlot *row;		/* the row as written (after BEFORE triggers) */
	TupleTableSlot *old;		/* update: the locked current version */
	CmdType		cmd;

	/*
	 * update: the version replaced is one this transaction wrote and whose
	 * foreign keys it has checked (prefactor_row_keys_checked_at_end): an
	 * update that changes no key column then skips checking them again
	 */
	bool		keys_checked;
	/* insert: the foreign keys checked through the index AM (key_check.c) */
	DirectKey	direct_keys[PREFACTOR_DIRECT_KEYS_MAX];	/* copies: the cache may start over */
	int			ndirect_keys;
	/* insert: a row the caller holds locked, whose key needs no check (prefactor_row_write_holds) */
	Oid			held_relid;
	Pfid		held_key[2];
} RowWrite;

extern bool prefactor_row_write_begin(RowWrite *w, Oid relid, CmdType cmd);
extern TupleTableSlot *prefactor_row_insert(RowWrite *w, const Datum *values, const bool *nulls,
											const bool *given);
extern bool prefactor_lock_latest(Relation rel, ItemPointer tid, TupleTableSlot *slot);
extern bool prefactor_row_lock(RowWrite *w, Oid index_oid, const Pfid *first, const Pfid *second);
extern bool prefactor_row_lock_at(RowWrite *w, ItemPointer tid);
extern TupleTableSlot *prefactor_row_update(RowWrite *w, int n, const int *attnums,
											const Datum *values, const bool *nulls);
extern void prefactor_row_write_end(RowWrite *w);
extern bool prefactor_row_keys_checked_at_end(Relation rel);
extern void prefactor_row_write_holds(RowWrite *w, Oid relid, const Pfid *first, const Pfid *second);

#endif
