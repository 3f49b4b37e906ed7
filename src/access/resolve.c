/*
 * resolve.c
 *	  Names and ids as clients give them. Every API function learns its
 *	  account here (resolve_account) or from an instance, span or token id
 *	  (owning_account, account_access.c), so the two are where the caller's
 *	  access is checked; to a caller without access an unknown account and
 *	  another account's look the same: insufficient_privilege. An agent or
 *	  environment argument is a name or an id in its account. C: the run
 *	  start (src/api/run_api.c) resolves all three on every call, and on a
 *	  Citus worker its queries run on the account's shards (shard scope).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "access/account_access.h"
#include "access/resolve.h"
#include "core/caches.h"
#include "core/excerpt.h"

/*
 * The error of a name or id that found nothing in its account; shared with
 * require_found() in SQL.
 */
void
prefactor_not_found(const char *what, const char *value, const char *hint)
{
	if (value == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	ereport(ERROR,
			(errcode(ERRCODE_NO_DATA_FOUND),
			 errmsg("%s \"%s\" does not exist in this account", what, prefactor_excerpt(value)),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * The account named by id or name (an id wins), if the calling role has the
 * level there: null_value_not_allowed for NULL, insufficient_privilege
 * without access (unknown accounts included), no_data_found otherwise.
 */
void
prefactor_resolve_account(const char *account, const char *level, Pfid *found)
{
	static SPIPlanPtr by_name = NULL;
	Pfid		id;
	const Pfid *hit = NULL;

	if (account == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("account must not be null")));
	(void) prefactor_pfid_oid();
	/* an account's id is in its own partition: the backend's partition cache answers */
	if (pfid_try_parse(account, strlen(account), &id))
	{
		const Pfid *owner = prefactor_account_for_partition(pfid_get_partition(&id));

		if (owner != NULL && memcmp(owner->data, id.data, PFID_LEN) == 0)
			hit = &id;
	}
	if (hit == NULL)
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1] = {CStringGetTextDatum(account)};
		bool		isnull;

		SPI_connect();
		prefactor_spi_execute_generic(&by_name,
									  "SELECT a.account_id FROM prefactor.accounts a WHERE a.name OPERATOR(pg_catalog.=) $1",
									  1, argtypes, values, NULL, true, 1);
		if (SPI_processed == 1)
		{
			memcpy(id.data, DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))->data,
				   PFID_LEN);
			hit = &id;
		}
		SPI_finish();
	}
	prefactor_require_access(hit, level, psprintf("account \"%s\"", prefactor_excerpt(account)));
	if (hit == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("account \"%s\" does not exist", prefactor_excerpt(account)),
				 errhint("Create it with prefactor.prefactor_create_account(name).")));
	memcpy(found, hit, sizeof(Pfid));
}

/* A kind of row an API argument names by name or id within its account. */
typedef struct NamedKind
{
	const char *what;
	const char *by_id_sql;
	const char *by_name_sql;
	const char *hint;
	SPIPlanPtr	by_id;
	SPIPlanPtr	by_name;
} NamedKind;

static NamedKind agents = {
	"agent",
	"SELECT g.id FROM prefactor.agents g"
	" WHERE g.account_id OPERATOR(prefactor.=) $1 AND g.id OPERATOR(prefactor.=) $2",
	"SELECT g.id FROM prefactor.agents g"
	" WHERE g.account_id OPERATOR(prefactor.=) $1 AND g.name OPERATOR(pg_catalog.=) $2",
	"Register it with prefactor.prefactor_register_agent(account, name).",
};

static NamedKind environments = {
	"environment",
	"SELECT e.id FROM prefactor.environments e"
	" WHERE e.account_id OPERATOR(prefactor.=) $1 AND e.id OPERATOR(prefactor.=) $2",
	"SELECT e.id FROM prefactor.environments e"
	" WHERE e.account_id OPERATOR(prefactor.=) $1 AND e.name OPERATOR(pg_catalog.=) $2",
	"Create it with prefactor.prefactor_create_environment(account, name).",
};

/* The row of the account named by id or name (an id wins); raises if none. */
static void
resolve_named(NamedKind *kind, const Pfid *account, const char *value, Pfid *found)
{
	Oid			pf = prefactor_pfid_oid();
	Oid			argtypes[2] = {pf, pf};
	Datum		values[2];
	char		nulls[2] = {account ? ' ' : 'n', ' '};
	bool		hit = false;
	bool		isnull;
	Pfid		id;

	if (value == NULL)
		prefactor_not_found(kind->what, NULL, NULL);
	values[0] = PfidPGetDatum(account);
	SPI_connect();
	if (pfid_try_parse(value, strlen(value), &id))
	{
		values[1] = PfidPGetDatum(&id);
		prefactor_spi_execute_generic(&kind->by_id, kind->by_id_sql, 2, argtypes, values, nulls, true, 1);
		hit = SPI_processed == 1;
	}
	if (!hit)
	{
		argtypes[1] = TEXTOID;
		values[1] = CStringGetTextDatum(value);
		prefactor_spi_execute_generic(&kind->by_name, kind->by_name_sql, 2, argtypes, values, nulls, true, 1);
		hit = SPI_processed == 1;
	}
	if (hit)
		memcpy(found->data, DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull))->data,
			   PFID_LEN);
	SPI_finish();
	if (!hit)
		prefactor_not_found(kind->what, value, kind->hint);
}

void
prefactor_resolve_agent(const Pfid *account, const char *agent, Pfid *found)
{
	resolve_named(&agents, account, agent, found);
}

void
prefactor_resolve_environment(const Pfid *account, const char *environment, Pfid *found)
{
	resolve_named(&environments, account, environment, found);
}

static Datum
pfid_datum(const Pfid *id)
{
	Pfid	   *copy = palloc(sizeof(Pfid));

	memcpy(copy, id, sizeof(Pfid));
	return PfidPGetDatum(copy);
}

static const char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* resolve_account(account, level): see prefactor_resolve_account. */
PG_FUNCTION_INFO_V1(prefactor_resolve_account_sql);
Datum
prefactor_resolve_account_sql(PG_FUNCTION_ARGS)
{
	Pfid		found;

	prefactor_resolve_account(text_arg(fcinfo, 0), text_arg(fcinfo, 1), &found);
	return pfid_datum(&found);
}

/* resolve_agent(account, agent) and resolve_environment(account, environment). */
PG_FUNCTION_INFO_V1(prefactor_resolve_agent_sql);
Datum
prefactor_resolve_agent_sql(PG_FUNCTION_ARGS)
{
	Pfid		found;

	prefactor_resolve_agent(PG_ARGISNULL(0) ? NULL : PG_GETARG_PFID_P(0), text_arg(fcinfo, 1), &found);
	return pfid_datum(&found);
}

PG_FUNCTION_INFO_V1(prefactor_resolve_environment_sql);
Datum
prefactor_resolve_environment_sql(PG_FUNCTION_ARGS)
{
	Pfid		found;

	prefactor_resolve_environment(PG_ARGISNULL(0) ? NULL : PG_GETARG_PFID_P(0), text_arg(fcinfo, 1), &found);
	return pfid_datum(&found);
}

/* require_found(what, value, found_id, hint): found_id, or the error of prefactor_not_found. */
PG_FUNCTION_INFO_V1(prefactor_require_found_sql);
Datum
prefactor_require_found_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		prefactor_not_found(PG_ARGISNULL(0) ? "value" : text_arg(fcinfo, 0), text_arg(fcinfo, 1),
							text_arg(fcinfo, 3));
	PG_RETURN_DATUM(PG_GETARG_DATUM(2));
}
