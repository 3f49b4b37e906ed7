/*
 * index_read.h
 *	  One row by a two-pfid key through the index AM, or the last of a
 *	  two-pfid range through the btree (index_read.c).
 */
#ifndef PREFACTOR_INDEX_READ_H
#define PREFACTOR_INDEX_READ_H

#include "postgres.h"

#include "access/sdir.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

#include "core/pfid.h"

extern bool prefactor_index_first(Relation heap, Oid index_oid, const Pfid *first, const Pfid *second,
								  ScanDirection direction, Snapshot snapshot, TupleTableSlot *slot);
extern bool prefactor_index_last(Relation heap, Oid index_oid, const Pfid *first, const Pfid *second,
								 Snapshot snapshot, TupleTableSlot *slot);

#endif
