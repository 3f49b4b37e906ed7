/*
 * key_check.h
 *	  Foreign-key checks of a row written through the table AM, through the
 *	  index AM, and what a table's triggers allow to skip (key_check.c).
 */
#ifndef PREFACTOR_KEY_CHECK_H
#define PREFACTOR_KEY_CHECK_H

#include "postgres.h"

#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"

/* A foreign key of two pfid columns referencing a unique index of two. */
typedef struct DirectKey
{
	Oid			conoid;
	char		conname[NAMEDATALEN];
	Oid			confrelid;
	Oid			conindid;
	AttrNumber	conkey[2];
	AttrNumber	confkey[2];		/* the referenced columns */
} DirectKey;

#define PREFACTOR_DIRECT_KEYS_MAX 8

extern const DirectKey *prefactor_direct_key_of(Relation rel, const Trigger *trigger);
extern void prefactor_key_check(Relation rel, const DirectKey *key, TupleTableSlot *row);
extern bool prefactor_only_own_update_triggers(Relation rel);

#endif
