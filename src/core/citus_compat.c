/*
 * citus_compat.c
 *	  prefactor on a Citus cluster (doc/scale-out.md). Every query prefactor's
 *	  C runs touches one account: its rows are in co-located shards, or in the
 *	  reference tables (accounts, account_members) every node holds. Such a
 *	  query may run inside a query on a shard: a row-level security policy
 *	  asking member_accounts(), a view or aggregate asking for a span type's
 *	  points, the span guard looking up its run. Citus refuses any query on a
 *	  Citus table there unless citus.allow_nested_distributed_execution is on,
 *	  because a nested query that leaves the node could miss the transaction's
 *	  own writes. prefactor's never leave it (one account's co-located shards,
 *	  or a reference table's local copy), so these functions turn the setting
 *	  on for the length of one of prefactor's own queries only; a user's query
 *	  keeps Citus's protection. Without Citus (the setting does not exist) they
 *	  do nothing.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "core/citus_compat.h"

#define CITUS_NESTED_SETTING "citus.allow_nested_distributed_execution"

/* -1: not yet known; 0: Citus is not loaded; 1: it is */
static int	citus_loaded = -1;

/*
 * Before one of prefactor's queries: allows it inside a query on a shard.
 * Returns the GUC nest level to pass to prefactor_citus_local_end, or -1.
 * An error in between needs no end: (sub)transaction abort restores the setting.
 */
int
prefactor_citus_local_begin(void)
{
	int			nest_level;

	if (citus_loaded < 0)
		citus_loaded = GetConfigOption(CITUS_NESTED_SETTING, true, false) != NULL;
	if (!citus_loaded)
		return -1;
	nest_level = NewGUCNestLevel();
	(void) set_config_option(CITUS_NESTED_SETTING, "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest_level;
}

/* After the query: the setting as it was. */
void
prefactor_citus_local_end(int nest_level)
{
	if (nest_level >= 0)
		AtEOXact_GUC(true, nest_level);
}

/* Whether Citus is loaded (shared_preload_libraries) in this server. */
bool
prefactor_citus_loaded(void)
{
	if (citus_loaded < 0)
		citus_loaded = GetConfigOption(CITUS_NESTED_SETTING, true, false) != NULL;
	return citus_loaded;
}

/*
 * Whether a trigger's relation is a Citus shard of the named prefactor table
 * (spans_102008) rather than the table itself: its trigger runs inside a
 * query the coordinator sent, so what only the coordinator's session may see
 * (a notification) is left to the API call there.
 */
bool
prefactor_citus_is_shard(Relation rel, const char *table_name)
{
	return prefactor_citus_loaded() && strcmp(RelationGetRelationName(rel), table_name) != 0;
}

/*
 * Whether prefactor.<table_name> is a Citus table in this database (asked
 * rarely: it reads the catalog each time, so prefactor.distribute() takes
 * effect in sessions already open).
 */
bool
prefactor_citus_distributed(const char *table_name)
{
	bool		result = false;
	bool		isnull;
	Datum		arg;
	Oid			argtype = TEXTOID;

	if (!prefactor_citus_loaded())
		return false;
	arg = CStringGetTextDatum(psprintf("prefactor.%s", table_name));
	SPI_connect();
	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL", 0,
							  NULL, NULL, NULL, true, 1) == SPI_OK_SELECT &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p"
							  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1))",
							  1, &argtype, &arg, NULL, true, 1) == SPI_OK_SELECT)
		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return result;
}
