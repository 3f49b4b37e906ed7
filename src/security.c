/*
 * security.c
 *	  Helpers of the account boundary: who is calling, strong random bytes
 *	  for token secrets, and a constant-time comparison of digests.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#define PREFACTOR_MAX_RANDOM_BYTES 1024

PG_FUNCTION_INFO_V1(prefactor_calling_role);
PG_FUNCTION_INFO_V1(prefactor_calling_role_is_superuser);
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

/* Whether the calling role (see prefactor_calling_role) is a superuser. */
Datum
prefactor_calling_role_is_superuser(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(superuser_arg(GetOuterUserId()));
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
