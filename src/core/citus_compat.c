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
#include "catalog/namespace.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/relcache.h"

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

/* Answers of prefactor_citus_table, dropped at any relcache invalidation. */
typedef struct CitusTableAnswer
{
	Oid			relid;			/* key */
	bool		citus_table;
} CitusTableAnswer;

static HTAB *citus_table_answers = NULL;

static void
citus_table_answers_reset(Datum arg, Oid relid)
{
	if (citus_table_answers != NULL)
	{
		hash_destroy(citus_table_answers);
		citus_table_answers = NULL;
	}
}

/*
 * Whether a relation is a Citus table (distributed or reference) in this
 * database. Such a table's rows are in its shards: prefactor then reads it
 * through the executor, never its own storage (on the coordinator that holds
 * what it had before prefactor.distribute(); on a worker, nothing).
 */
bool
prefactor_citus_table(Oid relid)
{
	static bool callback_registered = false;
	CitusTableAnswer *answer;
	bool		found;
	bool		result = false;
	bool		isnull;
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			argtype = OIDOID;

	if (!prefactor_citus_loaded())
		return false;
	if (citus_table_answers != NULL)
	{
		answer = hash_search(citus_table_answers, &relid, HASH_FIND, NULL);
		if (answer != NULL)
			return answer->citus_table;
	}
	SPI_connect();
	if (SPI_execute("SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL",
					true, 1) == SPI_OK_SELECT &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		SPI_execute_with_args("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p"
							  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)",
							  1, &argtype, &arg, NULL, true, 1) == SPI_OK_SELECT)
		result = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(citus_table_answers_reset, (Datum) 0);
		callback_registered = true;
	}
	if (citus_table_answers == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CitusTableAnswer);
		ctl.hcxt = TopMemoryContext;
		citus_table_answers = hash_create("prefactor Citus tables", 16, &ctl,
										  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	answer = hash_search(citus_table_answers, &relid, HASH_ENTER, &found);
	answer->citus_table = result;
	return result;
}

/* Whether prefactor.<table_name> is a Citus table in this database. */
bool
prefactor_citus_distributed(const char *table_name)
{
	Oid			relid;

	if (!prefactor_citus_loaded())
		return false;
	relid = get_relname_relid(table_name, get_namespace_oid("prefactor", false));
	return OidIsValid(relid) && prefactor_citus_table(relid);
}

/*
 * The index of a relation (a table or, on Citus, one of its shards) made from
 * the extension's index of that name: shards carry their table's index
 * names with the shard id appended (spans_run_risk_total_102040).
 */
Oid
prefactor_own_index(Relation rel, const char *index_name)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	size_t		len = strlen(index_name);
	Oid			result = InvalidOid;

	foreach(lc, indexes)
	{
		char	   *name = get_rel_name(lfirst_oid(lc));
		const char *rest;

		if (name == NULL || strncmp(name, index_name, len) != 0)
			continue;
		rest = name + len;
		if (*rest == '_' && rest[1] != '\0')
			for (rest++; *rest >= '0' && *rest <= '9'; rest++)
				;
		if (*rest == '\0')
		{
			result = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	return result;
}
