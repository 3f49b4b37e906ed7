/*
 * risk_alert.c
 *	  The level-rise alert of a span stored through a Citus coordinator.
 *	  On a single node the span guard notifies channel prefactor_risk as it
 *	  raises the run (risk_live.c). On Citus the guard runs on the worker
 *	  holding the account's shards, whose notifications reach only listeners
 *	  on that worker (and a worker's part of a two-phase commit may not
 *	  notify at all), so it leaves the alert to the API call that sent the
 *	  span: the span calls run on the coordinator, see that the stored span
 *	  raised its run (RETURNING raised_run_risk), and ask here whether its
 *	  level rose; if so they notify in their own transaction, so a LISTEN on
 *	  the coordinator receives the alert when the span commits, with the same
 *	  payload as on a single node. Spans loaded by plain INSERT or COPY
 *	  through the coordinator raise their runs but send no alert
 *	  (doc/scale-out.md).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"

#include "core/caches.h"
#include "core/citus_compat.h"
#include "risk/risk.h"

/*
 * After a span call stored a span that raised its run: notifies the level
 * rise when spans is distributed (on a single node the guard did). Runs
 * inside the caller's SPI connection.
 */
void
risk_alert_after_span(const Pfid *account, const Pfid *span, bool terminated)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[2];
	Datum		args[2];
	char	   *account_name;
	char	   *agent_name;
	char	   *score_text;
	char	   *level_name;
	Pfid	   *instance;
	bool		isnull;

	if (!prefactor_citus_distributed("spans"))
		return;
	types[0] = types[1] = prefactor_pfid_oid();
	args[0] = PfidPGetDatum(account);
	args[1] = PfidPGetDatum(span);
	/*
	 * One account's rows: a router query to its worker. The level before the
	 * span is the band of the run's total before it (totals only grow).
	 */
	prefactor_spi_execute(&plan,
						  "SELECT a.name, g.name, s.instance_id, s.risk_total::text, lv.after::text"
						  "  FROM prefactor.spans s"
						  "  JOIN prefactor.instances i ON i.account_id OPERATOR(prefactor.=) s.account_id"
						  "   AND i.id OPERATOR(prefactor.=) s.instance_id"
						  "  JOIN prefactor.agents g ON g.account_id OPERATOR(prefactor.=) i.account_id"
						  "   AND g.id OPERATOR(prefactor.=) i.agent_id"
						  "  JOIN prefactor.risk_profile_revisions r ON r.account_id OPERATOR(prefactor.=) s.account_id"
						  "   AND r.id OPERATOR(prefactor.=) s.risk_profile_revision_id"
						  "  JOIN prefactor.accounts a ON a.account_id OPERATOR(prefactor.=) s.account_id"
						  " CROSS JOIN LATERAL (SELECT"
						  "   prefactor.risk_level(s.risk_total, r.medium_threshold, r.high_threshold, r.critical_threshold) AS after,"
						  "   prefactor.risk_level(s.risk_total OPERATOR(pg_catalog.-) prefactor.risk_type_points(s.span_type_id, s.risk_profile_revision_id),"
						  "                        r.medium_threshold, r.high_threshold, r.critical_threshold) AS before) lv"
						  " WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2"
						  "   AND lv.after OPERATOR(pg_catalog.>) lv.before",
						  2, types, args, NULL, true, 1);
	if (SPI_processed != 1)
		return;
	account_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	agent_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	instance = DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	score_text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	level_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	risk_notify_level_rise(account_name, agent_name, instance, score_text, level_name, terminated);
}
