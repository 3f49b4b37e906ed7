/*
 * risk_cache.c
 *	  Per-backend caches for risk scoring: the points a span of a type adds
 *	  under a profile revision (computed once per (span type, revision) by
 *	  prefactor.risk_span_type_points) and each revision's thresholds.
 *
 * Span types and profile revisions never change once stored (revisions are
 * guarded by a trigger; schema versions are immutable), and ids are never
 * reused, so entries stay valid for the life of the backend.  Lookups that
 * find nothing are not cached.  The entries are facts, whoever's query filled
 * them; what a SQL caller is told goes through risk_type_visible first.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/catcache.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/memutils.h"

#include "access/account_access.h"
#include "core/caches.h"
#include "core/citus_compat.h"
#include "core/excerpt.h"
#include "risk/risk.h"

const char *const risk_level_names[] = {"low", "medium", "high", "critical"};

static const char *const classification_names[] = {
	NULL, "public", "internal", "confidential", "restricted", "secret"
};

static MemoryContext RiskCacheContext = NULL;
static HTAB *RiskTypeCache = NULL;
static HTAB *RiskRevisionCache = NULL;
static HTAB *RiskNameCache = NULL;

/*
 * Bumped whenever the caches are dropped, so that callers keeping pointers
 * into them (the aggregates' interned pairs) know to look up again.
 */
uint64		risk_cache_generation = 1;

typedef struct RiskNameEntry
{
	Pfid		span_type_id;
	char	   *name;
} RiskNameEntry;

/* The installation the caches were built for. */
static InstallationWatch risk_cache_watch = INSTALLATION_WATCH_INIT;

/* Create the cache context and hash tables on first use; drop them for a new installation. */
static void
risk_cache_init(void)
{
	HASHCTL		ctl;

	if (prefactor_installation_changed(&risk_cache_watch))
		risk_cache_reset();
	if (RiskCacheContext != NULL)
		return;
	if (CacheMemoryContext == NULL)
		CreateCacheMemoryContext();
	RiskCacheContext = AllocSetContextCreate(CacheMemoryContext,
											 "prefactor risk cache",
											 ALLOCSET_DEFAULT_SIZES);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(RiskTypeKey);
	ctl.entrysize = sizeof(RiskTypeInfo);
	ctl.hcxt = RiskCacheContext;
	RiskTypeCache = hash_create("prefactor risk type points", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Pfid);
	ctl.entrysize = sizeof(RiskRevisionInfo);
	ctl.hcxt = RiskCacheContext;
	RiskRevisionCache = hash_create("prefactor risk revisions", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Pfid);
	ctl.entrysize = sizeof(RiskNameEntry);
	ctl.hcxt = RiskCacheContext;
	RiskNameCache = hash_create("prefactor span type names", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Drop every cached entry (the extension was re-created). */
void
risk_cache_reset(void)
{
	if (RiskCacheContext == NULL)
		return;
	MemoryContextDelete(RiskCacheContext);
	RiskCacheContext = NULL;
	risk_cache_generation++;
	RiskTypeCache = NULL;
	RiskRevisionCache = NULL;
	RiskNameCache = NULL;
}

/* The text form of a pfid, as a text Datum for SPI arguments. */
static Datum
pfid_text_datum(const Pfid *id)
{
	return CStringGetTextDatum(DatumGetCString(DirectFunctionCall1(pfid_out,
																   PfidPGetDatum(id))));
}

/* Index of a classification name, 0 if null or unknown. */
int
risk_classification_rank(const char *name)
{
	int			i;

	if (name == NULL)
		return 0;
	for (i = 1; i < lengthof(classification_names); i++)
		if (strcmp(name, classification_names[i]) == 0)
			return i;
	return 0;
}

/*
 * Whether the calling role may read the account of a span type (by its id's
 * partition). Answers to SQL callers about a span type (points, names) are
 * given only then: to anyone else a foreign span type is an unknown one.
 */
bool
risk_type_visible(const Pfid *span_type_id)
{
	const Pfid *account;

	(void) prefactor_pfid_oid();
	account = prefactor_account_for_partition(pfid_get_partition(span_type_id));
	return account != NULL && prefactor_has_access(account, "reader");
}

/* Level number of a risk_level label, RISK_LEVEL_NONE if null. */
int
risk_level_from_name(const char *name)
{
	int			i;

	if (name == NULL)
		return RISK_LEVEL_NONE;
	for (i = 0; i < lengthof(risk_level_names); i++)
		if (strcmp(name, risk_level_names[i]) == 0)
			return i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("unknown risk level \"%s\"", prefactor_excerpt(name))));
	return RISK_LEVEL_NONE;		/* keep compiler quiet */
}

/* Points of a span type under a revision; NULL if either does not exist. */
const RiskTypeInfo *
risk_type_lookup(const Pfid *span_type_id, const Pfid *revision_id)
{
	RiskTypeKey key;
	RiskTypeInfo *entry;
	bool		found;
	Datum		args[3];
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		points;
	char	   *classification;
	bool		isnull;
	MemoryContext oldcxt;
	Pfid	   *account;
	int			citus_nest;
	int			rc;

	risk_cache_init();
	memset(&key, 0, sizeof(key));
	memcpy(&key.span_type_id, span_type_id, sizeof(Pfid));
	memcpy(&key.revision_id, revision_id, sizeof(Pfid));
	entry = hash_search(RiskTypeCache, &key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	/* the account first, then its rows by account_id: one account's co-located shards on Citus */
	account = prefactor_account_for_partition(pfid_get_partition(span_type_id));
	if (account == NULL)
		return NULL;
	args[0] = pfid_text_datum(span_type_id);
	args[1] = pfid_text_datum(revision_id);
	args[2] = pfid_text_datum(account);
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not connect to SPI to look up span type points")));
	citus_nest = prefactor_citus_local_begin();
	rc = SPI_execute_with_args("SELECT prefactor.risk_span_type_points(st.data_risk, r.category_weights, r.action_multipliers),"
							   " prefactor.risk_classification(st.data_risk)::text"
							   " FROM prefactor.span_types st"
							   " JOIN prefactor.risk_profile_revisions r ON r.account_id OPERATOR(prefactor.=) st.account_id AND r.id OPERATOR(prefactor.=) $2::prefactor.pfid"
							   " WHERE st.account_id OPERATOR(prefactor.=) $3::prefactor.pfid AND st.id OPERATOR(prefactor.=) $1::prefactor.pfid",
							   3, argtypes, args, NULL, true, 1);
	prefactor_citus_local_end(citus_nest);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not look up span type points")));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return NULL;
	}
	points = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	classification = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	oldcxt = MemoryContextSwitchTo(RiskCacheContext);
	entry = hash_search(RiskTypeCache, &key, HASH_ENTER, &found);
	entry->points = DatumGetNumeric(datumCopy(isnull ? NumericGetDatum(int64_to_numeric(0)) : points,
											  false, -1));
	entry->scores = DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(entry->points),
													  NumericGetDatum(int64_to_numeric(0)))) > 0;
	entry->integral = DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(entry->points))) == 0 &&
		DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(entry->points),
										  NumericGetDatum(int64_to_numeric(PG_INT64_MAX / 1024)))) < 0;
	entry->ipoints = entry->integral ? DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(entry->points))) : 0;
	entry->classification = risk_classification_rank(classification);
	entry->classification_name = classification_names[entry->classification];
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	return entry;
}

/* Thresholds of a profile revision; NULL if it does not exist. */
const RiskRevisionInfo *
risk_revision_lookup(const Pfid *revision_id)
{
	RiskRevisionInfo *entry;
	bool		found;
	Datum		args[2];
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Pfid	   *account;
	int			citus_nest;
	int			rc;
	Datum		thresholds[3];
	char	   *terminate_at;
	char	   *profile_name;
	int			revision;
	bool		isnull;
	int			i;
	MemoryContext oldcxt;

	risk_cache_init();
	entry = hash_search(RiskRevisionCache, revision_id, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	account = prefactor_account_for_partition(pfid_get_partition(revision_id));
	if (account == NULL)
		return NULL;
	args[0] = pfid_text_datum(revision_id);
	args[1] = pfid_text_datum(account);
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not connect to SPI to look up a risk profile revision")));
	citus_nest = prefactor_citus_local_begin();
	rc = SPI_execute_with_args("SELECT r.medium_threshold, r.high_threshold, r.critical_threshold,"
							   " r.terminate_at_level::text, p.name, r.revision"
							   " FROM prefactor.risk_profile_revisions r"
							   " JOIN prefactor.risk_profiles p ON p.account_id OPERATOR(prefactor.=) r.account_id AND p.id OPERATOR(prefactor.=) r.risk_profile_id"
							   " WHERE r.account_id OPERATOR(prefactor.=) $2::prefactor.pfid AND r.id OPERATOR(prefactor.=) $1::prefactor.pfid",
							   2, argtypes, args, NULL, true, 1);
	prefactor_citus_local_end(citus_nest);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not look up a risk profile revision")));
	if (SPI_processed == 0)
	{
		SPI_finish();
		return NULL;
	}
	for (i = 0; i < 3; i++)
		thresholds[i] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
	terminate_at = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	profile_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	revision = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull));

	oldcxt = MemoryContextSwitchTo(RiskCacheContext);
	entry = hash_search(RiskRevisionCache, revision_id, HASH_ENTER, &found);
	for (i = 0; i < 3; i++)
		entry->thresholds[i] = DatumGetNumeric(datumCopy(thresholds[i], false, -1));
	entry->terminate_at = risk_level_from_name(terminate_at);
	entry->revision = revision;
	entry->profile_name = pstrdup(profile_name);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	return entry;
}

/*
 * Name of a span type (its id as text if it no longer exists).  *cached says
 * whether the result is a cache entry (valid until risk_cache_generation
 * changes) or a palloc'd string in the current context.
 */
const char *
risk_type_name(const Pfid *span_type_id, bool *cached)
{
	RiskNameEntry *entry;
	bool		found;
	Datum		args[2];
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	char	   *name;
	MemoryContext oldcxt;
	Pfid	   *account;
	int			citus_nest;
	int			rc;

	risk_cache_init();
	*cached = true;
	entry = hash_search(RiskNameCache, span_type_id, HASH_FIND, NULL);
	if (entry != NULL)
		return entry->name;

	args[0] = pfid_text_datum(span_type_id);
	account = prefactor_account_for_partition(pfid_get_partition(span_type_id));
	if (account == NULL)
	{
		*cached = false;
		return TextDatumGetCString(args[0]);
	}
	args[1] = pfid_text_datum(account);
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not connect to SPI to look up a span type name")));
	citus_nest = prefactor_citus_local_begin();
	rc = SPI_execute_with_args("SELECT st.name FROM prefactor.span_types st"
							   " WHERE st.account_id OPERATOR(prefactor.=) $2::prefactor.pfid AND st.id OPERATOR(prefactor.=) $1::prefactor.pfid",
							   2, argtypes, args, NULL, true, 1);
	prefactor_citus_local_end(citus_nest);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not look up a span type name")));
	if (SPI_processed == 0)
	{
		SPI_finish();
		*cached = false;
		return TextDatumGetCString(args[0]);
	}
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	oldcxt = MemoryContextSwitchTo(RiskCacheContext);
	entry = hash_search(RiskNameCache, span_type_id, HASH_ENTER, &found);
	entry->name = pstrdup(name);
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
	return entry->name;
}

/*
 * The band of a score under thresholds (medium, high, critical): the one
 * definition of the bands, for live scoring and for SQL's risk_level().
 */
static int
risk_band(Numeric score, Numeric const thresholds[3])
{
	for (int level = RISK_LEVEL_CRITICAL; level > RISK_LEVEL_LOW; level--)
		if (thresholds[level - 1] != NULL &&
			DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(score),
											  NumericGetDatum(thresholds[level - 1]))) >= 0)
			return level;
	return RISK_LEVEL_LOW;
}

/* The band of a score under a revision's thresholds. */
int
risk_level_of(const RiskRevisionInfo *rev, Numeric score)
{
	return risk_band(score, rev->thresholds);
}

PG_FUNCTION_INFO_V1(prefactor_risk_band);
/* SQL: risk_band(score, medium, high, critical), the label of a score's band (NULL score: NULL). */
Datum
prefactor_risk_band(PG_FUNCTION_ARGS)
{
	Numeric		thresholds[3];

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	for (int i = 0; i < 3; i++)
		thresholds[i] = PG_ARGISNULL(i + 1) ? NULL : PG_GETARG_NUMERIC(i + 1);
	PG_RETURN_TEXT_P(cstring_to_text(risk_level_names[risk_band(PG_GETARG_NUMERIC(0), thresholds)]));
}

PG_FUNCTION_INFO_V1(prefactor_risk_type_points);
/* SQL: points one span of a type adds under a revision (0 if unknown). */
Datum
prefactor_risk_type_points(PG_FUNCTION_ARGS)
{
	const RiskTypeInfo *info = NULL;

	if (risk_type_visible(PG_GETARG_PFID_P(0)))
		info = risk_type_lookup(PG_GETARG_PFID_P(0), PG_GETARG_PFID_P(1));
	if (info == NULL)
		PG_RETURN_NUMERIC(int64_to_numeric(0));
	PG_RETURN_DATUM(datumCopy(NumericGetDatum(info->points), false, -1));
}
