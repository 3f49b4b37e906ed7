/*
 * risk_level.c
 *	  The band of a score under a profile revision named by id, from the
 *	  backend's revision cache (risk_cache.c): SQL's prefactor_risk_level.
 *	  The revision is read by its account (found from the id's partition), so
 *	  on Citus the lookup is one account's shard, also when the call runs
 *	  inside a query on a shard (a view or a caller's SELECT).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "access/account_access.h"
#include "core/caches.h"
#include "core/pfid.h"
#include "risk/risk.h"

PG_FUNCTION_INFO_V1(prefactor_risk_revision_band);
/*
 * SQL: risk_revision_band(score, revision): the label of the score's band
 * under the revision; NULL for a NULL argument, an unknown revision, or one
 * of an account the calling role may not read.
 */
Datum
prefactor_risk_revision_band(PG_FUNCTION_ARGS)
{
	const Pfid *revision;
	const Pfid *account;
	const RiskRevisionInfo *rev;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	revision = PG_GETARG_PFID_P(1);
	(void) prefactor_pfid_oid();
	account = prefactor_account_for_partition(pfid_get_partition(revision));
	if (account == NULL || !prefactor_has_access(account, "reader"))
		PG_RETURN_NULL();
	rev = risk_revision_lookup(revision);
	if (rev == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(risk_level_names[risk_level_of(rev, PG_GETARG_NUMERIC(0))]));
}
