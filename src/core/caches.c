/*
 * caches.c
 *	  Backend-lifetime caches of rows that never change (account partitions,
 *	  span types of a schema version) and saved SPI plans.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "access/account_access.h"
#include "core/caches.h"
#include "core/citus_compat.h"


typedef struct AccountEntry
{
	int32		partition;		/* key */
	Pfid		account;
} AccountEntry;

typedef struct SpanTypeKey
{
	Pfid		schema_version;
	char		name[SPAN_TYPE_NAME_MAX_BYTES + 1];
} SpanTypeKey;

typedef struct SpanTypeEntry
{
	SpanTypeKey key;
	bool		declared;
	Pfid		span_type;
} SpanTypeEntry;

static Oid	cached_pfid_type = InvalidOid;
static bool pfid_type_checked = false;	/* cached_pfid_type still names the type */
static bool pfid_type_callback_registered = false;
static HTAB *account_cache = NULL;
static HTAB *span_type_cache = NULL;

/* Saved plans made here; freed when the extension is re-created. */
#define MAX_SAVED_PLANS 64
static SPIPlanPtr *saved_plan_slots[MAX_SAVED_PLANS];
static int	n_saved_plans = 0;

/* The OID of prefactor.pfid in this database (looked up by name). */
Oid
prefactor_pfid_type(void)
{
	Oid			nsp = get_namespace_oid("prefactor", true);
	Oid			typ = OidIsValid(nsp) ?
		GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						CStringGetDatum("pfid"), ObjectIdGetDatum(nsp)) : InvalidOid;

	if (!OidIsValid(typ))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"prefactor\" is not installed in this database")));
	return typ;
}

/* Any change to pg_type (DROP EXTENSION among them) makes the next call look again. */
static void
pfid_type_invalidated(Datum arg, int cacheid, uint32 hashvalue)
{
	pfid_type_checked = false;
}

/*
 * The pfid type OID the caches belong to, looked up (and the caches made
 * ready) on first use and after any pg_type change: every caller, whatever
 * the order of its calls, gets the current type, so no plan is ever prepared
 * with an argument type the caches have not checked yet.
 */
Oid
prefactor_pfid_oid(void)
{
	if (!pfid_type_checked || account_cache == NULL)
	{
		if (!pfid_type_callback_registered)
		{
			CacheRegisterSyscacheCallback(TYPEOID, pfid_type_invalidated, (Datum) 0);
			pfid_type_callback_registered = true;
		}
		prefactor_caches_check(prefactor_pfid_type());
		pfid_type_checked = true;
	}
	return cached_pfid_type;
}

/*
 * For a module's own cache: whether it was built for another installation of
 * the extension than the current one (it then resets itself). A module calls
 * this when its syscache callback on pg_type has marked it stale, and records
 * the current pfid type in *built_for.
 */
bool
prefactor_pfid_changed(Oid *built_for)
{
	Oid			current = prefactor_pfid_oid();
	bool		changed = *built_for != current;

	*built_for = current;
	return changed;
}

/* The modules' relcache callbacks, called from prefactor's one slot. */
#define RELCACHE_CALLBACKS_MAX 16
static struct
{
	RelcacheCallbackFunction func;
	Datum		arg;
}			relcache_callbacks[RELCACHE_CALLBACKS_MAX];
static int	relcache_callbacks_count = 0;

static void
relcache_invalidated(Datum arg, Oid relid)
{
	for (int i = 0; i < relcache_callbacks_count; i++)
		relcache_callbacks[i].func(relcache_callbacks[i].arg, relid);
}

void
prefactor_on_relcache_invalidation(RelcacheCallbackFunction func, Datum arg)
{
	for (int i = 0; i < relcache_callbacks_count; i++)
		if (relcache_callbacks[i].func == func && relcache_callbacks[i].arg == arg)
			return;
	if (relcache_callbacks_count >= RELCACHE_CALLBACKS_MAX)
		elog(FATAL, "out of prefactor relcache callback slots");
	if (relcache_callbacks_count == 0)
		CacheRegisterRelcacheCallback(relcache_invalidated, (Datum) 0);
	relcache_callbacks[relcache_callbacks_count].func = func;
	relcache_callbacks[relcache_callbacks_count].arg = arg;
	relcache_callbacks_count++;
}

/* A watched installation's pg_type callback: look again on next use. */
static void
installation_watch_invalidated(Datum arg, int cacheid, uint32 hashvalue)
{
	((InstallationWatch *) DatumGetPointer(arg))->stale = true;
}

/* Whether the extension was re-created since the watching cache was built. */
bool
prefactor_installation_changed(InstallationWatch *watch)
{
	if (!watch->registered)
	{
		CacheRegisterSyscacheCallback(TYPEOID, installation_watch_invalidated, PointerGetDatum(watch));
		watch->registered = true;
	}
	if (!watch->stale)
		return false;
	watch->stale = false;
	return prefactor_pfid_changed(&watch->pfid);
}

/*
 * Drops this file's caches and the saved plans made through
 * prefactor_spi_execute when the extension was re-created. Every other cache
 * registers its own invalidation (see prefactor_pfid_changed).
 */
void
prefactor_caches_check(Oid pfid_type)
{
	HASHCTL		ctl;

	if (pfid_type == cached_pfid_type && account_cache != NULL)
		return;

	if (account_cache)
		hash_destroy(account_cache);
	if (span_type_cache)
		hash_destroy(span_type_cache);
	for (int i = 0; i < n_saved_plans; i++)
	{
		if (*saved_plan_slots[i])
			SPI_freeplan(*saved_plan_slots[i]);
		*saved_plan_slots[i] = NULL;
	}
	n_saved_plans = 0;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(AccountEntry);
	ctl.hcxt = CacheMemoryContext;
	account_cache = hash_create("prefactor account partitions", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(SpanTypeKey);
	ctl.entrysize = sizeof(SpanTypeEntry);
	ctl.hcxt = CacheMemoryContext;
	span_type_cache = hash_create("prefactor span types", 256, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cached_pfid_type = pfid_type;
}

/*
 * Runs a plan saved for the backend's life, preparing it on first use with
 * the cursor options given (the shard scope's plan of it takes the same).
 */
static int
spi_execute(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
			Datum *values, const char *nulls, bool read_only, long count, int cursor_options)
{
	int			rc;
	int			citus_nest;
	SPIPlanPtr	scoped;

	if (*plan == NULL)
	{
		/*
		 * With Citus loaded, the query may run through Citus's executor
		 * (outside a shard scope), which plans some distributed queries
		 * only with the parameters' values: a generic plan is for the
		 * shard scope's plan of it then.
		 */
		SPIPlanPtr	p = SPI_prepare_cursor(sql, nargs, argtypes, prefactor_citus_loaded() ?
										   cursor_options & ~CURSOR_OPT_GENERIC_PLAN : cursor_options);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (n_saved_plans >= MAX_SAVED_PLANS)
			elog(ERROR, "too many saved plans in prefactor");
		SPI_keepplan(p);
		*plan = p;
		saved_plan_slots[n_saved_plans++] = plan;
	}
	citus_nest = prefactor_citus_local_begin();
	/* on the Citus worker holding the call's account: its shards, directly */
	scoped = prefactor_citus_scoped_plan_options(plan, sql, nargs, argtypes, cursor_options);
	rc = SPI_execute_plan(scoped ? scoped : *plan, values, nulls, read_only, count);
	prefactor_citus_local_end(citus_nest);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
	return rc;
}

/* Runs a plan saved for the backend's life, preparing it on first use. */
int
prefactor_spi_execute(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
					  Datum *values, const char *nulls, bool read_only, long count)
{
	return spi_execute(plan, sql, nargs, argtypes, values, nulls, read_only, count, 0);
}

/*
 * The same with a generic plan, never a custom one: for a query that names
 * its rows by key, so that one plan fits every call. Where the statistics
 * make a parameter's value look special (a Citus shard's spans of one run
 * against the statistics of many), the plan cache would otherwise keep
 * choosing a custom plan, planning the query again at every call.
 */
int
prefactor_spi_execute_generic(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
							  Datum *values, const char *nulls, bool read_only, long count)
{
	return spi_execute(plan, sql, nargs, argtypes, values, nulls, read_only, count,
					   CURSOR_OPT_GENERIC_PLAN);
}

/* The account owning a partition; NULL when no account has it. */
Pfid *
prefactor_account_for_partition(int32 partition)
{
	static SPIPlanPtr plan = NULL;
	AccountEntry *entry;
	bool		found;
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	Pfid	   *result = NULL;
	MemoryContext caller = CurrentMemoryContext;

	entry = hash_search(account_cache, &partition, HASH_FIND, &found);
	if (found)
		return &entry->account;

	values[0] = Int32GetDatum(partition);
	SPI_connect();
	prefactor_spi_execute(&plan,
						  "SELECT a.account_id, a.xmin FROM prefactor.accounts a WHERE a.partition OPERATOR(pg_catalog.=) $1",
						  1, argtypes, values, NULL, true, 1);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		TransactionId xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
																 SPI_tuptable->tupdesc, 2, &isnull));

		/* an account this transaction wrote may still roll back: answered, not kept */
		if (TransactionIdIsCurrentTransactionId(xmin))
			result = MemoryContextAlloc(caller, sizeof(Pfid));
		else
		{
			entry = hash_search(account_cache, &partition, HASH_ENTER, &found);
			result = &entry->account;
		}
		memcpy(result, DatumGetPfidP(d), sizeof(Pfid));
	}
	SPI_finish();
	return result;
}

/* The account whose partition an id carries, as a datum; NULL when none or, if checked, not readable. */
static Datum
partition_account_datum(FunctionCallInfo fcinfo, bool checked)
{
	Pfid	   *account;
	Pfid	   *copy;

	(void) prefactor_pfid_oid();
	account = prefactor_account_for_partition(pfid_get_partition(PG_GETARG_PFID_P(0)));
	if (account == NULL || (checked && !prefactor_has_access(account, "reader")))
		PG_RETURN_NULL();
	copy = palloc(sizeof(Pfid));
	memcpy(copy, account, sizeof(Pfid));
	PG_RETURN_PFID_P(copy);
}

/*
 * account_of(pfid): the account whose partition an id carries, or NULL. The
 * partition cache holds facts for every caller; the answer is given only to a
 * role that may read the account, so to any other caller an id of a foreign
 * account looks like an id of no account.
 */
PG_FUNCTION_INFO_V1(prefactor_account_of);
Datum
prefactor_account_of(PG_FUNCTION_ARGS)
{
	return partition_account_datum(fcinfo, true);
}

/*
 * partition_account(pfid): the same, whoever asks. Only for a caller that
 * proved its right otherwise (an ingest token's secret names its account
 * through its id); granted to no role.
 */
PG_FUNCTION_INFO_V1(prefactor_partition_account);
Datum
prefactor_partition_account(PG_FUNCTION_ARGS)
{
	return partition_account_datum(fcinfo, false);
}

/* The span type declared under a name by a schema version (cached, both ways). */
bool
prefactor_lookup_span_type(const Pfid *account, const Pfid *schema_version,
						   const char *name, Pfid *span_type)
{
	static SPIPlanPtr plan = NULL;
	SpanTypeKey key;
	SpanTypeEntry *entry;
	bool		found;
	size_t		len = strlen(name);
	Oid			argtypes[3] = {prefactor_pfid_oid(), prefactor_pfid_oid(), TEXTOID};
	Datum		values[3];

	if (len > SPAN_TYPE_NAME_MAX_BYTES)
		return false;			/* longer than any span type name can be */
	memset(&key, 0, sizeof(key));
	memcpy(&key.schema_version, schema_version, sizeof(Pfid));
	memcpy(key.name, name, len);

	entry = hash_search(span_type_cache, &key, HASH_FIND, &found);
	if (!found)
	{
		bool		declared = false;
		Pfid		id;

		values[0] = PfidPGetDatum(account);
		values[1] = PfidPGetDatum(schema_version);
		values[2] = CStringGetTextDatum(name);
		SPI_connect();
		prefactor_spi_execute(&plan,
							  "SELECT t.id FROM prefactor.span_types t"
							  " WHERE t.account_id OPERATOR(prefactor.=) $1"
							  " AND t.schema_version_id OPERATOR(prefactor.=) $2 AND t.name OPERATOR(pg_catalog.=) $3",
							  3, argtypes, values, NULL, true, 1);
		if (SPI_processed == 1)
		{
			bool		isnull;

			memcpy(&id, DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull)),
				   sizeof(Pfid));
			declared = true;
		}
		SPI_finish();
		entry = hash_search(span_type_cache, &key, HASH_ENTER, &found);
		entry->declared = declared;
		if (declared)
			memcpy(&entry->span_type, &id, sizeof(Pfid));
	}
	if (entry->declared)
		memcpy(span_type, &entry->span_type, sizeof(Pfid));
	return entry->declared;
}

/* A hash table in TopMemoryContext, keyed by the key's bytes: the backend caches of every module. */
HTAB *
prefactor_backend_hash(const char *name, long nelem, Size keysize, Size entrysize)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = TopMemoryContext;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * *table, made on first use; once it holds max entries it is made again,
 * empty: for memos of what a statement touched (runs of a bulk load), whose
 * entries are only worth keeping while the statement goes on.
 */
HTAB *
prefactor_bounded_hash(HTAB **table, const char *name, Size keysize, Size entrysize, long max)
{
	if (*table != NULL && hash_get_num_entries(*table) >= max)
	{
		hash_destroy(*table);
		*table = NULL;
	}
	if (*table == NULL)
		*table = prefactor_backend_hash(name, 256, keysize, entrysize);
	return *table;
}
