/*
 * citus_compat.h
 *	  What prefactor's C needs to work the same on a Citus cluster
 *	  (doc/scale-out.md), without depending on Citus.
 */
#ifndef PREFACTOR_CITUS_COMPAT_H
#define PREFACTOR_CITUS_COMPAT_H

#include "executor/spi.h"
#include "utils/rel.h"

#include "core/pfid.h"

extern int	prefactor_citus_local_begin(void);
extern void prefactor_citus_local_end(int nest_level);
extern bool prefactor_citus_loaded(void);
extern bool prefactor_citus_is_shard(Relation rel, const char *table_name);
extern bool prefactor_citus_distributed(const char *table_name);
extern bool prefactor_citus_table(Oid relid);
extern Oid	prefactor_citus_local_relid(Oid relid);
extern Oid	prefactor_own_index(Relation rel, const char *index_name);
extern Pfid *prefactor_new_row_id(Relation rel, int32 partition);
extern void *prefactor_citus_scope_begin(const Pfid *account);
extern void prefactor_citus_scope_end(void *previous);
extern bool prefactor_citus_in_scope(void);
extern SPIPlanPtr prefactor_citus_scoped_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr prefactor_citus_scoped_plan_options(SPIPlanPtr *slot, const char *sql, int nargs,
													  Oid *argtypes, int cursor_options);
extern SPIPlanPtr prefactor_citus_scoped_saved(SPIPlanPtr *slot);

#endif
