/*
 * account_access.c
 *	  Helpers of the account boundary: who is calling, whether the caller may
 *	  act in an account (asked by every API call, so C over a saved plan),
 *	  strong random bytes for token secrets, and a constant-time comparison
 *	  of digests.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/inval.h"
#include "commands/trigger.h"
#include "catalog/namespace.h"

#include "access/account_access.h"
#include "core/caches.h"
#include "core/excerpt.h"

#define PREFACTOR_MAX_RANDOM_BYTES 1024

PG_FUNCTION_INFO_V1(prefactor_calling_role);
PG_FUNCTION_INFO_V1(prefactor_random_bytes);
PG_FUNCTION_INFO_V1(prefactor_secure_equal);

/*
 * The role the session acts as outside any SECURITY DEFINER function: the
 * session user, or the role chosen with SET ROLE. Inside a SECURITY DEFINER
 * function current_user is the function's owner, so the API functions ask
 * this one who called them.
 */
Datum
prefactor_calling_role(PG_FUNCTION_ARGS)
{
	const char *rolename = GetUserNameFromId(GetOuterUserId(), false);

	PG_RETURN_DATUM(DirectFunctionCall1(namein, CStringGetDatum(rolename)));
}

/*
 * Answers of has_access, kept until memberships change: every span call,
 * policy, view and aggregate asks about the same few accounts again and
 * again. Any write to account_members sends a relcache invalidation of that
 * table (its statement trigger, prefactor_account_members_changed), which
 * every backend receives at commit and the writing one at its next command;
 * the callback then forgets every answer. Re-creating the extension changes
 * the table's OID, so its invalidation clears the answers too.
 */
typedef struct AccessKey
{
	Oid			user;
	Pfid		account;
	int			level;			/* index into access_level_names */
} AccessKey;

typedef struct AccessAnswer
{
	AccessKey	key;
	bool		granted;
} AccessAnswer;

#define ACCESS_CACHE_MAX 1024	/* answers kept at most; then start afresh */

static const char *const access_level_names[] = {"reader", "ingest", "admin"};
static HTAB *access_answers = NULL;
static uint64 access_generation = 1;	/* moves on whenever the answers are forgotten */
static Oid	members_relid = InvalidOid;	/* account_members, when the answers were begun */

/*
 * A relcache invalidation of account_members (or of everything): forget
 * every answer. (No catalog lookups here: callbacks run while invalidations
 * are being processed.)
 */
static void
access_invalidate(Datum arg, Oid relid)
{
	if (access_answers != NULL && (!OidIsValid(relid) || relid == members_relid))
	{
		hash_destroy(access_answers);
		access_answers = NULL;
		access_generation++;
	}
}

/* The index of a level name, -1 if it is not one. */
static int
access_level_index(const char *level)
{
	for (int i = 0; i < lengthof(access_level_names); i++)
		if (strcmp(level, access_level_names[i]) == 0)
			return i;
	return -1;
}

/* The kept answer for (user, account, level), or NULL. */
static AccessAnswer *
access_cache_find(Oid user, const Pfid *account, int level, bool *found)
{
	AccessKey	key;

	if (access_answers == NULL || hash_get_num_entries(access_answers) >= ACCESS_CACHE_MAX)
	{
		HASHCTL		ctl;
		/* looked up first: a lookup may process invalidations, which reset the answers */
		Oid			members = get_relname_relid("account_members", get_namespace_oid("prefactor", false));

		prefactor_on_relcache_invalidation(access_invalidate, (Datum) 0);
		if (access_answers != NULL)
			hash_destroy(access_answers);
		access_generation++;
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(AccessKey);
		ctl.entrysize = sizeof(AccessAnswer);
		ctl.hcxt = CacheMemoryContext;
		access_answers = hash_create("prefactor access answers", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		members_relid = members;
	}
	memset(&key, 0, sizeof(key));
	key.user = user;
	memcpy(&key.account, account, sizeof(Pfid));
	key.level = level;
	return hash_search(access_answers, &key, HASH_ENTER, found);
}

/*
 * Which set of access answers is current: a caller that keeps its own
 * verdicts (the risk aggregates' pairs) keeps them while this holds.
 */
uint64
prefactor_access_generation(void)
{
	return access_generation;
}

/* account_members' statement trigger: every backend forgets its access answers. */
PG_FUNCTION_INFO_V1(prefactor_account_members_changed);
Datum
prefactor_account_members_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("account_members_changed must be a FOR EACH STATEMENT trigger")));
	CacheInvalidateRelcache(td->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * Whether the calling role is a superuser or a member of the account at the
 * level or above (false for a NULL account). Raises invalid_parameter_value
 * for a level other than reader, ingest or admin.
 */
bool
prefactor_has_access(const Pfid *account, const char *level)
{
	static SPIPlanPtr plan = NULL;
	Oid			caller = GetOuterUserId();
	int			level_index = access_level_index(level);
	Oid			argtypes[3] = {prefactor_pfid_oid(), NAMEOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {account ? ' ' : 'n', ' ', ' '};
	bool		known_level;
	bool		member;
	bool		isnull;
	AccessAnswer *answer;

	/* superusers bypass the boundary: no lookup for a level access_levels() knows */
	if (superuser_arg(caller) && level_index >= 0)
		return true;
	if (account != NULL && level_index >= 0)
	{
		bool		found;

		answer = access_cache_find(caller, account, level_index, &found);
		if (found)
			return answer->granted;
		/* not yet answered: an error below must not leave an entry behind */
		hash_search(access_answers, &answer->key, HASH_REMOVE, NULL);
	}
	values[0] = account ? PfidPGetDatum(account) : (Datum) 0;
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(caller, false)));
	values[2] = CStringGetTextDatum(level);
	SPI_connect();
	/* access_levels is the one list of levels, shared with the policies */
	prefactor_spi_execute(&plan,
						  "SELECT prefactor.access_levels($3) IS NOT NULL,"
						  " EXISTS (SELECT 1 FROM prefactor.account_members m"
						  "  WHERE m.account_id OPERATOR(prefactor.=) $1 AND m.role_name OPERATOR(pg_catalog.=) $2"
						  "    AND m.level OPERATOR(pg_catalog.=) ANY (prefactor.access_levels($3)))",
						  3, argtypes, values, nulls, true, 1);
	known_level = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	member = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	if (!known_level)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access level must be reader, ingest or admin, not %s", prefactor_excerpt(level))));
	member = member || superuser_arg(caller);
	if (account != NULL && level_index >= 0)
	{
		bool		found;

		/* the lookup may have processed an invalidation: enter the answer afresh */
		answer = access_cache_find(caller, account, level_index, &found);
		answer->granted = member;
	}
	return member;
}

/*
 * Raises insufficient_privilege unless the calling role has the level in the
 * account. To such a caller an unknown account (NULL) and another account's
 * look the same. subject names what was asked for, for the message.
 */
void
prefactor_require_access(const Pfid *account, const char *level, const char *subject)
{
	if (level == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access level must be reader, ingest or admin, not null")));
	if (!prefactor_has_access(account, level))
		prefactor_access_denied(level, subject);
}

/*
 * The account of an instance, span or token id, from its partition, if the
 * calling role has the level there: null_value_not_allowed for a NULL id,
 * insufficient_privilege without access (unknown and foreign accounts look
 * the same), no_data_found naming what when no account owns the partition.
 */
const Pfid *
prefactor_owning_account(const Pfid *id, const char *what, const char *level)
{
	const Pfid *account;

	if (id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	(void) prefactor_pfid_oid();
	account = prefactor_account_for_partition(pfid_get_partition(id));
	if (!prefactor_has_access(account, level))
		prefactor_access_denied(level, psprintf("the account of %s %s", what, pfid_text(id)));
	if (account == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("%s %s does not exist", what, pfid_text(id))));
	return account;
}

/* owning_account(id, what, level): see prefactor_owning_account. */
PG_FUNCTION_INFO_V1(prefactor_owning_account_sql);
Datum
prefactor_owning_account_sql(PG_FUNCTION_ARGS)
{
	const char *what = PG_ARGISNULL(1) ? "id" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	const char *level = PG_ARGISNULL(2) ? "admin" : text_to_cstring(PG_GETARG_TEXT_PP(2));
	const Pfid *account = prefactor_owning_account(PG_ARGISNULL(0) ? NULL : PG_GETARG_PFID_P(0), what, level);
	Pfid	   *copy = palloc(sizeof(Pfid));

	memcpy(copy, account, sizeof(Pfid));
	PG_RETURN_PFID_P(copy);
}

/* The error of a failed access check (callers on hot paths build subject only then). */
void
prefactor_access_denied(const char *level, const char *subject)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied: role \"%s\" has no %s access to %s",
					GetUserNameFromId(GetOuterUserId(), false), level, subject),
			 errdetail("Unknown accounts and accounts the role does not belong to are not told apart."),
			 errhint("An admin of the account grants access with prefactor.prefactor_grant_access(account, role, level).")));
}

/* member_accounts' answer, kept for the rest of the query that asked. */
typedef struct MemberAccountsCache
{
	LocalTransactionId lxid;	/* the answer holds while nothing could change */
	CommandId	cid;
	Oid			user;
	text	   *level;
	Datum		accounts;		/* pfid[] in fn_mcxt */
} MemberAccountsCache;

/*
 * member_accounts(level): the accounts current_user belongs to at the level
 * or above. Every row-level security policy asks it, and in a sequential
 * scan it is evaluated for every row; as a STABLE function its answer cannot
 * change within the query, so the first answer is kept in the expression's
 * own cache (fn_extra) for the query's life. It runs as current_user, whose
 * only visible account_members rows are its own.
 */
PG_FUNCTION_INFO_V1(prefactor_member_accounts);
Datum
prefactor_member_accounts(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan = NULL;
	MemberAccountsCache *cache = (MemberAccountsCache *) fcinfo->flinfo->fn_extra;
	text	   *level = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	Oid			user = GetUserId();
	CommandId	cid = GetCurrentCommandId(false);
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	char		nulls[1];
	bool		isnull;
	Datum		accounts;
	MemoryContext old;

	/*
	 * An expression state can outlive its statement (PL/pgSQL keeps simple
	 * expressions for the transaction), so the answer is reused only within
	 * one transaction and command.
	 */
	if (cache != NULL && cache->user == user && cache->lxid == MyProc->lxid && cache->cid == cid &&
		(level == NULL ? cache->level == NULL :
		 cache->level != NULL && VARSIZE_ANY_EXHDR(level) == VARSIZE_ANY_EXHDR(cache->level) &&
		 memcmp(VARDATA_ANY(level), VARDATA_ANY(cache->level), VARSIZE_ANY_EXHDR(level)) == 0))
		PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(cache->accounts));	/* callers own their result */

	(void) prefactor_pfid_oid();
	values[0] = level ? PointerGetDatum(level) : (Datum) 0;
	nulls[0] = level ? ' ' : 'n';
	SPI_connect();
	prefactor_spi_execute(&plan,
						  "SELECT pg_catalog.array_agg(m.account_id) FROM prefactor.account_members m"
						  " WHERE m.role_name OPERATOR(pg_catalog.=) CURRENT_USER"
						  "   AND m.level OPERATOR(pg_catalog.=) ANY (prefactor.access_levels($1))",
						  1, argtypes, values, nulls, true, 1);
	accounts = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	/* the new answer is complete before the old one goes, so an error leaves a valid cache */
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	{
		text	   *level_copy = level ? (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(level)) : NULL;
		Datum		accounts_copy = isnull ? PointerGetDatum(construct_empty_array(prefactor_pfid_oid()))
			: PointerGetDatum(DatumGetArrayTypePCopy(accounts));

		if (cache == NULL)
			cache = palloc0(sizeof(MemberAccountsCache));
		else
		{
			if (cache->level)
				pfree(cache->level);
			pfree(DatumGetPointer(cache->accounts));
		}
		cache->lxid = MyProc->lxid;
		cache->cid = cid;
		cache->user = user;
		cache->level = level_copy;
		cache->accounts = accounts_copy;
	}
	MemoryContextSwitchTo(old);
	SPI_finish();
	fcinfo->flinfo->fn_extra = cache;
	PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(cache->accounts));
}

/* has_access(account, level): see prefactor_has_access. */
PG_FUNCTION_INFO_V1(prefactor_has_access_sql);
Datum
prefactor_has_access_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("access level must be reader, ingest or admin, not null")));
	PG_RETURN_BOOL(prefactor_has_access(PG_ARGISNULL(0) ? NULL : PG_GETARG_PFID_P(0),
										text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

/* require_access(account, level, subject): see prefactor_require_access. */
PG_FUNCTION_INFO_V1(prefactor_require_access_sql);
Datum
prefactor_require_access_sql(PG_FUNCTION_ARGS)
{
	prefactor_require_access(PG_ARGISNULL(0) ? NULL : PG_GETARG_PFID_P(0),
							 PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
							 PG_ARGISNULL(2) ? "the account" : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	PG_RETURN_VOID();
}

/* n bytes from pg_strong_random (1 .. 1024). */
Datum
prefactor_random_bytes(PG_FUNCTION_ARGS)
{
	int32		n = PG_GETARG_INT32(0);
	bytea	   *result;

	if (n < 1 || n > PREFACTOR_MAX_RANDOM_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("random_bytes takes 1 to %d bytes, not %d",
						PREFACTOR_MAX_RANDOM_BYTES, n)));
	result = (bytea *) palloc(VARHDRSZ + n);
	SET_VARSIZE(result, VARHDRSZ + n);
	if (!pg_strong_random(VARDATA(result), n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	PG_RETURN_BYTEA_P(result);
}

/*
 * Whether two byte strings are equal, in time that depends only on their
 * lengths (never on where they first differ).
 */
Datum
prefactor_secure_equal(PG_FUNCTION_ARGS)
{
	bytea	   *a = PG_GETARG_BYTEA_PP(0);
	bytea	   *b = PG_GETARG_BYTEA_PP(1);
	size_t		alen = VARSIZE_ANY_EXHDR(a);
	size_t		blen = VARSIZE_ANY_EXHDR(b);
	const volatile unsigned char *pa = (const unsigned char *) VARDATA_ANY(a);
	const volatile unsigned char *pb = (const unsigned char *) VARDATA_ANY(b);
	volatile unsigned char diff = 0;
	size_t		i;

	if (alen != blen)
		PG_RETURN_BOOL(false);
	for (i = 0; i < alen; i++)
		diff |= pa[i] ^ pb[i];
	PG_RETURN_BOOL(diff == 0);
}

PG_FUNCTION_INFO_V1(prefactor_ingest_token_id);
/*
 * The id an ingest token text carries: pft_<pfid in lowercase>_<64 lowercase
 * hex digits of secret>; NULL for any other text. (What the token check
 * parses at every SDK call: a pattern match would cost more than the rest of
 * the check.)
 */
Datum
prefactor_ingest_token_id(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(token);
	Pfid	   *id;

	if (VARSIZE_ANY_EXHDR(token) != 101 || memcmp(s, "pft_", 4) != 0 || s[36] != '_')
		PG_RETURN_NULL();
	/* the pfid's own parser checks its alphabet; a token writes it in lower case */
	for (int i = 4; i < 36; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			PG_RETURN_NULL();
	for (int i = 37; i < 101; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			PG_RETURN_NULL();
	id = palloc(sizeof(Pfid));
	if (!pfid_try_parse(s + 4, 32, id))
		PG_RETURN_NULL();
	PG_RETURN_PFID_P(id);
}
