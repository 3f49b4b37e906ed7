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

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/plancache.h"
#include "catalog/namespace.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/relcache.h"

#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/pfid.h"

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

static void citus_relcache_callback(Datum arg, Oid relid);

/* One relcache callback for every answer kept here (the backend has few slots). */
static void
register_relcache_callback(void)
{
	prefactor_on_relcache_invalidation(citus_relcache_callback, (Datum) 0);
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
	register_relcache_callback();
	if (citus_table_answers == NULL)
		citus_table_answers = prefactor_backend_hash("prefactor Citus tables", 16, sizeof(Oid), sizeof(CitusTableAnswer));
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

/* Hash ranges of Citus shards, by relation; dropped at any relcache invalidation. */
typedef struct ShardRange
{
	Oid			relid;			/* key */
	bool		is_shard;		/* a shard of a hash-distributed table */
	int32		min;
	int32		max;
} ShardRange;

static HTAB *shard_ranges = NULL;


/*
 * The hash range of rel when it is a shard of a hash-distributed Citus table
 * (spans_102545: the table's name, "_", the shard id in pg_dist_shard).
 */
static bool
shard_range(Relation rel, int32 *min, int32 *max)
{
	const char *name = RelationGetRelationName(rel);
	const char *suffix = strrchr(name, '_');
	ShardRange *entry;
	Oid			relid = RelationGetRelid(rel);
	bool		found;
	bool		isnull;
	int64		shardid;
	char	   *end;

	if (!prefactor_citus_loaded() || suffix == NULL || suffix[1] < '0' || suffix[1] > '9')
		return false;
	if (shard_ranges != NULL &&
		(entry = hash_search(shard_ranges, &relid, HASH_FIND, NULL)) != NULL)
	{
		*min = entry->min;
		*max = entry->max;
		return entry->is_shard;
	}
	errno = 0;
	shardid = strtoi64(suffix + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;

	/* the shard of this very relation: its table's name and schema, then the shard id */
	{
		Oid			argtypes[3] = {INT8OID, TEXTOID, OIDOID};
		Datum		args[3] = {Int64GetDatum(shardid), CStringGetTextDatum(name),
		ObjectIdGetDatum(RelationGetNamespace(rel))};
		ShardRange	answer = {relid, false, 0, 0};

		SPI_connect();
		if (SPI_execute("SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_shard') IS NOT NULL",
						true, 1) == SPI_OK_SELECT &&
			DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
			SPI_execute_with_args("SELECT s.shardminvalue::pg_catalog.int4, s.shardmaxvalue::pg_catalog.int4"
								  " FROM pg_catalog.pg_dist_shard s"
								  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid"
								  " JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid OPERATOR(pg_catalog.=) s.logicalrelid"
								  " WHERE s.shardid OPERATOR(pg_catalog.=) $1 AND p.partmethod OPERATOR(pg_catalog.=) 'h'"
								  " AND c.relnamespace OPERATOR(pg_catalog.=) $3"
								  " AND (c.relname::pg_catalog.text OPERATOR(pg_catalog.||) '_'"
								  "      OPERATOR(pg_catalog.||) s.shardid::pg_catalog.text) OPERATOR(pg_catalog.=) $2",
								  3, argtypes, args, NULL, true, 1) == SPI_OK_SELECT &&
			SPI_processed == 1)
		{
			answer.min = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			answer.is_shard = !isnull;
			answer.max = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
			answer.is_shard = answer.is_shard && !isnull;
		}
		SPI_finish();
		/* made after the query: an invalidation on the way drops the table */
		register_relcache_callback();
		if (shard_ranges == NULL)
			shard_ranges = prefactor_backend_hash("prefactor Citus shard ranges", 16, sizeof(Oid), sizeof(ShardRange));
		entry = hash_search(shard_ranges, &relid, HASH_ENTER, &found);
		*entry = answer;
	}
	*min = entry->min;
	*max = entry->max;
	return entry->is_shard;
}

/*
 * A new id for a row of rel in the account's partition. On a Citus shard its
 * random part is drawn until the id hashes into the shard's own range, the
 * range of its account_id: a call naming the id (prefactor_start_span(run),
 * prefactor_finish_span(span)) is then delegated by Citus, by the id, to
 * the worker holding the account's shards, in one round trip (distributed
 * functions, doc/scale-out.md). A range too narrow to hit in a few hundred
 * draws (an account isolated to shards of its own) gets a plain random id:
 * calls naming it still work, through the coordinator's executor on the
 * worker they are sent to.
 */
Pfid *
prefactor_new_row_id(Relation rel, int32 partition)
{
	int64		ms = pfid_now_ms();
	int32		min;
	int32		max;
	Pfid	   *id = pfid_make_random(ms, partition);

	if (shard_range(rel, &min, &max) && (int64) max - (int64) min >= (INT64CONST(1) << 32) / 256)
	{
		for (int tries = 0; tries < 4096; tries++)
		{
			int32		h = DatumGetInt32(hash_any(id->data, PFID_LEN));

			if (h >= min && h <= max)
				break;
			pfree(id);
			id = pfid_make_random(ms, partition);
		}
	}
	return id;
}

/*
 * Shard scope. A span call Citus delegated to the worker holding its
 * account's shards (or a client's call on that worker) would have Citus plan
 * each of prefactor's queries as a distributed query, then deparse, parse
 * and plan it again for local execution on the shard: most of a span's cost
 * on a worker. Inside the call's scope prefactor_spi_execute runs the same
 * query on the account's shards themselves (prefactor.spans becomes
 * prefactor.spans_102545, a reference table its local copy) with a plan
 * saved per shard group: as on a single node. The scope exists only when
 * every prefactor Citus table has its account's shard placed on this node,
 * and it holds Citus's shard metadata lock (share mode, as Citus's own
 * executor takes it for a write) until the transaction ends, so that no
 * shard move or split completes meanwhile; the placements are read again
 * after the lock is taken whenever Citus's metadata changed.
 */
typedef struct ScopeMap
{
	Pfid		account;		/* key */
	bool		local;			/* every table's shard is placed here */
	int			ntables;
	char	  **tables;			/* prefactor table names */
	char	  **shards;			/* their shard relations' names here */
	Oid		   *table_relids;	/* the tables' oids */
	Oid		   *shard_relids;	/* their shards' oids here */
	int64		anchor;			/* a distributed shard of the group: the lock */
} ScopeMap;

typedef struct ScopedPlan
{
	SPIPlanPtr *slot;			/* key: the call site's plan */
	int64		anchor;			/* key: the shard group */
	SPIPlanPtr	plan;
} ScopedPlan;

static HTAB *scope_maps = NULL;
static HTAB *scoped_plans = NULL;
static bool scope_stale = false;
static ScopeMap *current_scope = NULL;

/*
 * Any relcache invalidation (Citus's metadata changes send them): the
 * answers about Citus tables and shards are read again, and the next call's
 * shard scope reads its placements again. A call keeps the scope it is in:
 * it holds the shard group's metadata lock until its transaction ends, so
 * no move or split changes those placements under it, and leaving the scope
 * halfway would split a span call's decisions (the guard's alert in the
 * scope, the call's own outside it: two alerts).
 */
static void
citus_relcache_callback(Datum arg, Oid relid)
{
	if (citus_table_answers != NULL)
	{
		hash_destroy(citus_table_answers);
		citus_table_answers = NULL;
	}
	if (shard_ranges != NULL)
	{
		hash_destroy(shard_ranges);
		shard_ranges = NULL;
	}
	scope_stale = true;
}

/* An error leaves the scope: later queries go through Citus (always correct). */
static void
scope_xact_callback(XactEvent event, void *arg)
{
	current_scope = NULL;
}

static void
scope_subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		current_scope = NULL;
}

/* Drops the maps and plans made before an invalidation (outside the callback). */
static void
scope_reset(void)
{
	HASH_SEQ_STATUS seq;
	ScopedPlan *sp;

	if (scoped_plans != NULL)
	{
		hash_seq_init(&seq, scoped_plans);
		while ((sp = hash_seq_search(&seq)) != NULL)
			SPI_freeplan(sp->plan);
		hash_destroy(scoped_plans);
		scoped_plans = NULL;
	}
	if (scope_maps != NULL)
	{
		hash_destroy(scope_maps);
		scope_maps = NULL;
	}
	scope_stale = false;
}

/* The account's shards on this node, read from Citus's metadata. */
static void
scope_map_fill(ScopeMap *map)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(DatumGetInt32(hash_any(map->account.data, PFID_LEN)))};
	bool		isnull;
	int64		ntables;

	map->local = false;
	map->ntables = 0;
	map->anchor = 0;
	SPI_connect();
	if (SPI_execute("SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_placement') IS NOT NULL",
					true, 1) != SPI_OK_SELECT ||
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ||
		SPI_execute("SELECT count(*) FROM pg_catalog.pg_dist_partition p"
					" JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid"
					" WHERE c.relnamespace OPERATOR(pg_catalog.=) 'prefactor'::pg_catalog.regnamespace",
					true, 1) != SPI_OK_SELECT)
	{
		SPI_finish();
		return;
	}
	ntables = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (ntables > 0 &&
		SPI_execute_with_args("SELECT c.relname::pg_catalog.text, s.shardid,"
							  " c.relname::pg_catalog.text OPERATOR(pg_catalog.||) '_'"
							  "   OPERATOR(pg_catalog.||) s.shardid::pg_catalog.text, p.partmethod OPERATOR(pg_catalog.=) 'h'"
							  " FROM pg_catalog.pg_dist_partition p"
							  " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid"
							  " JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid"
							  " JOIN pg_catalog.pg_dist_placement pl ON pl.shardid OPERATOR(pg_catalog.=) s.shardid"
							  " WHERE c.relnamespace OPERATOR(pg_catalog.=) 'prefactor'::pg_catalog.regnamespace"
							  " AND pl.groupid OPERATOR(pg_catalog.=) (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)"
							  " AND pl.shardstate OPERATOR(pg_catalog.=) 1"
							  " AND (p.partmethod OPERATOR(pg_catalog.=) 'n' OR (p.partmethod OPERATOR(pg_catalog.=) 'h'"
							  "  AND $1 OPERATOR(pg_catalog.>=) s.shardminvalue::pg_catalog.int4"
							  "  AND $1 OPERATOR(pg_catalog.<=) s.shardmaxvalue::pg_catalog.int4))"
							  " AND pg_catalog.to_regclass(pg_catalog.quote_ident('prefactor') OPERATOR(pg_catalog.||) '.'"
							  "  OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname::pg_catalog.text"
							  "  OPERATOR(pg_catalog.||) '_' OPERATOR(pg_catalog.||) s.shardid::pg_catalog.text)) IS NOT NULL",
							  1, argtypes, args, NULL, true, 0) == SPI_OK_SELECT &&
		SPI_processed == (uint64) ntables)
	{
		Oid			namespace = get_namespace_oid("prefactor", false);

		map->tables = MemoryContextAlloc(TopMemoryContext, sizeof(char *) * ntables);
		map->shards = MemoryContextAlloc(TopMemoryContext, sizeof(char *) * ntables);
		map->table_relids = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * ntables);
		map->shard_relids = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * ntables);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			HeapTuple	row = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			map->tables[i] = MemoryContextStrdup(TopMemoryContext, SPI_getvalue(row, desc, 1));
			map->shards[i] = MemoryContextStrdup(TopMemoryContext, SPI_getvalue(row, desc, 3));
			/* shards live in their table's schema */
			map->table_relids[i] = get_relname_relid(map->tables[i], namespace);
			map->shard_relids[i] = get_relname_relid(map->shards[i], namespace);
			if (DatumGetBool(SPI_getbinval(row, desc, 4, &isnull)) && map->anchor == 0)
				map->anchor = DatumGetInt64(SPI_getbinval(row, desc, 2, &isnull));
		}
		map->ntables = (int) ntables;
		map->local = map->anchor != 0;
	}
	SPI_finish();
}

/*
 * Citus's lock on a shard's metadata (its LockShardDistributionMetadata: an
 * advisory lock of class 4 on the shard id), in share mode until the end of
 * the transaction, as Citus's executor takes it for a write to the shard.
 */
static void
lock_shard_metadata(int64 shardid)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (shardid >> 32), (uint32) shardid, 4);
	(void) LockAcquire(&tag, ShareLock, false, false);
	AcceptInvalidationMessages();
}

/*
 * Enters the account's shard scope when its shards are on this node.
 * Returns the scope to restore with prefactor_citus_scope_end.
 */
void *
prefactor_citus_scope_begin(const Pfid *account)
{
	static bool callbacks_registered = false;
	void	   *previous = current_scope;
	ScopeMap   *map;
	bool		found;

	if (!prefactor_citus_loaded() || !prefactor_citus_distributed("spans"))
		return previous;
	if (!callbacks_registered)
	{
		register_relcache_callback();
		RegisterXactCallback(scope_xact_callback, NULL);
		RegisterSubXactCallback(scope_subxact_callback, NULL);
		callbacks_registered = true;
	}
	for (int attempt = 0; attempt < 2; attempt++)
	{
		/* the maps are dropped only outside any scope (an outer call's map stays valid) */
		if (scope_stale && current_scope != NULL)
			break;
		if (scope_stale)
			scope_reset();
		if (scope_maps == NULL)
			scope_maps = prefactor_backend_hash("prefactor shard scopes", 16, sizeof(Pfid), sizeof(ScopeMap));
		map = hash_search(scope_maps, account, HASH_ENTER, &found);
		if (!found)
			scope_map_fill(map);
		if (!map->local)
		{
			current_scope = NULL;
			return previous;
		}
		lock_shard_metadata(map->anchor);
		/* the metadata changed while we waited: read the placements again */
		if (!scope_stale)
		{
			current_scope = map;
			return previous;
		}
	}
	current_scope = NULL;
	return previous;
}

/* Leaves the scope entered by prefactor_citus_scope_begin. */
void
prefactor_citus_scope_end(void *previous)
{
	current_scope = (ScopeMap *) previous;
}

/*
 * The relation holding relid's rows that prefactor may read and write
 * directly (index reads, the table AM): relid itself when it is not a Citus
 * table; in the current shard scope, the account's shard of it on this node
 * (a plain table with the table's triggers, constraints and indexes, and
 * foreign keys to its co-located shards); InvalidOid otherwise, when only a
 * statement, which Citus routes, will do.
 */
Oid
prefactor_citus_local_relid(Oid relid)
{
	if (!prefactor_citus_table(relid))
		return relid;
	if (current_scope == NULL)
		return InvalidOid;
	for (int i = 0; i < current_scope->ntables; i++)
		if (current_scope->table_relids[i] == relid)
			return current_scope->shard_relids[i];
	return InvalidOid;
}

/*
 * Whether a call is in its account's shard scope: it reads and writes the
 * account's shards here directly, and its span triggers run here as on a
 * single node (they send the level-rise alert themselves).
 */
bool
prefactor_citus_in_scope(void)
{
	return current_scope != NULL;
}

/* sql with each prefactor table the scope maps named by its shard here. */
static char *
scope_sql(const ScopeMap *map, const char *sql)
{
	StringInfoData out;
	const char *p = sql;
	const char *hit;

	initStringInfo(&out);
	while ((hit = strstr(p, "prefactor.")) != NULL)
	{
		const char *name = hit + strlen("prefactor.");
		const char *end = name;
		int			i;

		while ((*end >= 'a' && *end <= 'z') || (*end >= '0' && *end <= '9') || *end == '_')
			end++;
		appendBinaryStringInfo(&out, p, name - p);
		for (i = 0; i < map->ntables; i++)
			if (strlen(map->tables[i]) == (size_t) (end - name) &&
				strncmp(map->tables[i], name, end - name) == 0)
				break;
		if (i < map->ntables && (hit == sql || !((hit[-1] >= 'a' && hit[-1] <= 'z') || hit[-1] == '_')))
			appendStringInfoString(&out, map->shards[i]);
		else
			appendBinaryStringInfo(&out, name, end - name);
		p = end;
	}
	appendStringInfoString(&out, p);
	return out.data;
}

/*
 * The plan of a prefactor query for the current shard scope (NULL outside
 * one): the query made for the scope's shards, prepared once per call site
 * and shard group.
 */
SPIPlanPtr
prefactor_citus_scoped_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes)
{
	List	   *sources = *slot ? SPI_plan_get_plan_sources(*slot) : NIL;

	/* the options the call site's plan was made with */
	return prefactor_citus_scoped_plan_options(slot, sql, nargs, argtypes, list_length(sources) == 1 ?
											   ((CachedPlanSource *) linitial(sources))->cursor_options : 0);
}

/*
 * The same, prepared with the cursor options given: CURSOR_OPT_GENERIC_PLAN
 * for a query on the shards that the coordinator's executor could not run
 * with a generic plan (Citus refuses some distributed ones).
 */
SPIPlanPtr
prefactor_citus_scoped_plan_options(SPIPlanPtr *slot, const char *sql, int nargs, Oid *argtypes,
									int cursor_options)
{
	struct
	{
		SPIPlanPtr *slot;
		int64		anchor;
	}			key;
	ScopedPlan *entry;
	bool		found;

	if (current_scope == NULL)
		return NULL;
	if (scoped_plans == NULL)
		scoped_plans = prefactor_backend_hash("prefactor scoped plans", 64, sizeof(key), sizeof(ScopedPlan));
	memset(&key, 0, sizeof(key));
	key.slot = slot;
	key.anchor = current_scope->anchor;
	entry = hash_search(scoped_plans, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		char	   *shard_sql = scope_sql(current_scope, sql);
		SPIPlanPtr	p = SPI_prepare_cursor(shard_sql, nargs, argtypes, cursor_options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", shard_sql,
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		entry = hash_search(scoped_plans, &key, HASH_ENTER, &found);
		entry->plan = p;
	}
	return entry->plan;
}

/*
 * The plan saved in *slot, or in the current shard scope the same query
 * made for the scope's shards (for a module that prepares its own plan
 * rather than through prefactor_spi_execute).
 */
SPIPlanPtr
prefactor_citus_scoped_saved(SPIPlanPtr *slot)
{
	List	   *sources;
	CachedPlanSource *source;
	SPIPlanPtr	scoped;

	if (current_scope == NULL || *slot == NULL)
		return *slot;
	sources = SPI_plan_get_plan_sources(*slot);
	if (list_length(sources) != 1)
		return *slot;
	source = (CachedPlanSource *) linitial(sources);
	scoped = prefactor_citus_scoped_plan(slot, source->query_string, source->num_params, source->param_types);
	return scoped ? scoped : *slot;
}
