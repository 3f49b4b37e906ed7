/*
 * caches.h
 *	  Which installation of the extension the backend serves (its pfid type)
 *	  and the backend caches of rows that never change: account partitions,
 *	  span types of a schema version; saved SPI plans. Every other cache
 *	  checks the installation itself (prefactor_pfid_changed).
 */
#ifndef PREFACTOR_CACHES_H
#define PREFACTOR_CACHES_H

#include "postgres.h"

#include "utils/hsearch.h"
#include "utils/inval.h"

#include "executor/spi.h"
#include "mb/pg_wchar.h"

#include "core/pfid.h"

/*
 * Backend caches are tied to one installation of the extension, identified by
 * the OID of its pfid type; DROP/CREATE EXTENSION in a session starts afresh.
 */
extern void prefactor_caches_check(Oid pfid_type);
extern Oid	prefactor_pfid_type(void);
extern Oid	prefactor_pfid_oid(void);	/* current; makes the caches ready */
extern bool prefactor_pfid_changed(Oid *built_for);

/*
 * A module's watch on the installation its cache was built for: the module
 * keeps one (static, INSTALLATION_WATCH_INIT) and asks, before using its
 * cache, whether the extension was re-created since; the watch registers a
 * pg_type syscache callback of its own on first use.
 */
typedef struct InstallationWatch
{
	Oid			pfid;			/* the pfid type the cache was built for */
	bool		stale;			/* pg_type changed since the last look */
	bool		registered;
} InstallationWatch;

#define INSTALLATION_WATCH_INIT {InvalidOid, true, false}

extern bool prefactor_installation_changed(InstallationWatch *watch);

/* The account owning a partition (accounts never change partition); NULL if none. */
extern Pfid *prefactor_account_for_partition(int32 partition);

/*
 * A module's relcache invalidation callback. PostgreSQL gives a backend ten
 * relcache callback slots, shared with the core and other extensions (Citus
 * takes five), so prefactor's modules share one slot: each registers its own
 * callback here when it fills its cache (registering it again does nothing).
 */
extern void prefactor_on_relcache_invalidation(RelcacheCallbackFunction func, Datum arg);

/* A hash table in TopMemoryContext keyed by the key's bytes: the backend caches of every module. */
extern HTAB *prefactor_backend_hash(const char *name, long nelem, Size keysize, Size entrysize);
/* *table, made on first use, and made again empty once it holds max entries. */
extern HTAB *prefactor_bounded_hash(HTAB **table, const char *name, Size keysize, Size entrysize, long max);

/*
 * The longest span type name, in characters (the one limit: the guard's
 * spans_span_type_check, check_schema_document's length() in SQL, and the
 * span type cache, whose key holds it in any server encoding).
 */
#define SPAN_TYPE_NAME_MAX_CHARS	200
#define SPAN_TYPE_NAME_MAX_BYTES	(SPAN_TYPE_NAME_MAX_CHARS * MAX_MULTIBYTE_CHAR_LEN)

/* The span type a schema version declares under a name; false if undeclared. */
extern bool prefactor_lookup_span_type(const Pfid *account, const Pfid *schema_version,
									   const char *name, Pfid *span_type);

/* Runs a saved plan made from sql with the given argument types (prepared once). */
extern int	prefactor_spi_execute(SPIPlanPtr *plan, const char *sql, int nargs,
								  Oid *argtypes, Datum *values, const char *nulls,
								  bool read_only, long count);
/* The same, always with the generic plan (a query naming its rows by key). */
extern int	prefactor_spi_execute_generic(SPIPlanPtr *plan, const char *sql, int nargs,
										  Oid *argtypes, Datum *values, const char *nulls,
										  bool read_only, long count);

#endif
