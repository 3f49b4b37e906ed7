/*
 * risk_alert.c
 *	  The level-rise alert of a span stored through a Citus coordinator.
 *	  On a single node the span guard notifies channel prefactor_risk as it
 *	  raises the run (risk_live.c). On Citus, a span the coordinator's
 *	  executor stores on a worker's shard (a span call Citus does not
 *	  delegate, such as one in a transaction block) is judged by the guard
 *	  on that worker, whose notifications reach only listeners there (and a
 *	  worker's part of a two-phase commit may not notify at all), so the
 *	  guard leaves the alert to the API call on the coordinator: it sees
 *	  that the stored span raised its run (RETURNING raised_run_risk), asks
 *	  here whether its level rose, and if so notifies in its own
 *	  transaction, so a LISTEN on the coordinator receives the alert when
 *	  the span commits, with the same payload as on a single node. Spans
 *	  loaded by plain INSERT or COPY through the coordinator raise their
 *	  runs but send no alert (doc/scale-out.md).
 *
 *	  A span call Citus delegated to the worker holding the account (the
 *	  span functions are distributed functions, see prefactor.distribute())
 *	  runs there in the account's shard scope, where the guard sends the
 *	  alert as on a single node: risk_alert_send then keeps the payload
 *	  until the worker's transaction has committed and released its locks,
 *	  and sends it to the coordinator over a connection of its own
 *	  (pg_notify there), so that the LISTEN on the coordinator receives it
 *	  all the same.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

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

	/* on a single node, and in the account's shard scope on Citus, the span guard notified */
	if (!prefactor_citus_distributed("spans") || prefactor_citus_in_scope())
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
						  /* not read-only: a fresh snapshot sees the span just stored */
						  2, types, args, NULL, false, 1);
	if (SPI_processed != 1)
		return;
	account_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	agent_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	instance = DatumGetPfidP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	score_text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	level_name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	risk_notify_level_rise(account_name, agent_name, instance, score_text, level_name, terminated);
}

/* An alert for the coordinator, kept until its transaction ends. */
typedef struct ForwardedAlert
{
	int			nest_level;		/* the (sub)transaction that sent it */
	char	   *conninfo;
	char	   *channel;
	char	   *payload;
} ForwardedAlert;

/* Alerts of this transaction for the coordinator, in TopMemoryContext. */
static List *alerts_to_forward = NIL;
static bool forward_callback_registered = false;
/* The connection to the coordinator, kept for the next alerts. */
static PGconn *coordinator_conn = NULL;
static char *coordinator_conninfo = NULL;

/* Sends the pending alerts to the coordinator; never raises an error. */
static void
forward_alerts(void)
{
	ListCell   *lc;

	foreach(lc, alerts_to_forward)
	{
		ForwardedAlert *alert = (ForwardedAlert *) lfirst(lc);
		const char *params[2] = {alert->channel, alert->payload};
		PGresult   *res;

		if (coordinator_conn != NULL &&
			(PQstatus(coordinator_conn) != CONNECTION_OK || strcmp(coordinator_conninfo, alert->conninfo) != 0))
		{
			PQfinish(coordinator_conn);
			coordinator_conn = NULL;
		}
		if (coordinator_conn == NULL)
		{
			coordinator_conn = PQconnectdb(alert->conninfo);
			if (coordinator_conninfo)
				pfree(coordinator_conninfo);
			coordinator_conninfo = MemoryContextStrdup(TopMemoryContext, alert->conninfo);
		}
		if (PQstatus(coordinator_conn) != CONNECTION_OK)
		{
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not send a risk alert to the Citus coordinator: %s",
							PQerrorMessage(coordinator_conn)),
					 errdetail("Payload: %s", alert->payload)));
			PQfinish(coordinator_conn);
			coordinator_conn = NULL;
			continue;
		}
		res = PQexecParams(coordinator_conn, "SELECT pg_catalog.pg_notify($1, $2)", 2, NULL, params,
						   NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			ereport(WARNING,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("could not send a risk alert to the Citus coordinator: %s",
							PQerrorMessage(coordinator_conn)),
					 errdetail("Payload: %s", alert->payload)));
		PQclear(res);
	}
}

/* Forgets the alerts sent at or below a (sub)transaction nesting level. */
static void
drop_alerts(int from_level)
{
	ListCell   *lc;

	foreach(lc, alerts_to_forward)
	{
		ForwardedAlert *alert = (ForwardedAlert *) lfirst(lc);

		if (alert->nest_level < from_level)
			continue;
		pfree(alert->conninfo);
		pfree(alert->channel);
		pfree(alert->payload);
		pfree(alert);
		alerts_to_forward = foreach_delete_current(alerts_to_forward, lc);
	}
}

/*
 * At the end of the transaction, once its locks are released: a run's next
 * span waits on this transaction until then, so the round trip to the
 * coordinator (or a coordinator that cannot be reached) must not hold it.
 */
static void
forward_alerts_callback(ResourceReleasePhase phase, bool is_commit, bool is_top_level, void *arg)
{
	if (alerts_to_forward == NIL || phase != RESOURCE_RELEASE_AFTER_LOCKS || !is_top_level)
		return;
	if (is_commit)
		forward_alerts();
	drop_alerts(0);
}

/*
 * A subtransaction's alerts go with it: rolled back, they are never sent
 * (as its notifications would not be); committed, they become its parent's.
 */
static void
forward_alerts_subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (alerts_to_forward == NIL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		drop_alerts(level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		foreach(lc, alerts_to_forward)
		{
			ForwardedAlert *alert = (ForwardedAlert *) lfirst(lc);

			if (alert->nest_level >= level)
				alert->nest_level = level - 1;
		}
}

/*
 * The coordinator's connection string for the current user when this node
 * is a Citus worker (its group is not the coordinator's, 0), else NULL.
 * Kept until Citus's metadata or any relation changes (a relcache
 * invalidation): a worker asks at every alert of a delegated span call.
 */
static bool conninfo_known = false;
static Oid	conninfo_user = InvalidOid;
static char *conninfo_answer = NULL;

static void
conninfo_forget(Datum arg, Oid relid)
{
	conninfo_known = false;
}

static const char *
coordinator_conninfo_if_worker(void)
{
	static SPIPlanPtr citus_plan = NULL;
	static SPIPlanPtr conninfo_plan = NULL;
	bool		isnull;

	if (conninfo_known && conninfo_user == GetUserId())
		return conninfo_answer;
	prefactor_on_relcache_invalidation(conninfo_forget, (Datum) 0);
	if (conninfo_answer)
		pfree(conninfo_answer);
	conninfo_answer = NULL;
	SPI_connect();
	prefactor_spi_execute(&citus_plan,
						  "SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL",
						  0, NULL, NULL, NULL, true, 1);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		prefactor_spi_execute(&conninfo_plan,
							  "SELECT pg_catalog.concat_ws(' ', 'host=' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(n.nodename),"
							  " 'port=' OPERATOR(pg_catalog.||) n.nodeport,"
							  " 'dbname=' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(pg_catalog.current_database()),"
							  " 'user=' OPERATOR(pg_catalog.||) pg_catalog.quote_literal(CURRENT_USER::pg_catalog.text),"
							  " 'application_name=prefactor_risk_alerts connect_timeout=2',"
							  " pg_catalog.current_setting('citus.node_conninfo', true))"
							  " FROM pg_catalog.pg_dist_node n, pg_catalog.pg_dist_local_group l"
							  " WHERE l.groupid OPERATOR(pg_catalog.<>) 0 AND n.groupid OPERATOR(pg_catalog.=) 0"
							  " AND n.noderole OPERATOR(pg_catalog.=) 'primary' AND n.isactive",
							  0, NULL, NULL, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
		conninfo_answer = MemoryContextStrdup(TopMemoryContext,
											  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	SPI_finish();
	conninfo_user = GetUserId();
	conninfo_known = true;
	return conninfo_answer;
}

/*
 * Sends a risk alert on channel channel: a notification of this
 * transaction, or, on a Citus worker, to the coordinator when this
 * transaction commits (see the head of this file).
 */
void
risk_alert_send(const char *channel, const char *payload)
{
	const char *conninfo;
	ForwardedAlert *alert;
	MemoryContext old;

	if (!prefactor_citus_loaded() || (conninfo = coordinator_conninfo_if_worker()) == NULL)
	{
		Async_Notify(channel, payload);
		return;
	}
	if (!forward_callback_registered)
	{
		RegisterResourceReleaseCallback(forward_alerts_callback, NULL);
		RegisterSubXactCallback(forward_alerts_subxact_callback, NULL);
		forward_callback_registered = true;
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	alert = palloc(sizeof(ForwardedAlert));
	alert->nest_level = GetCurrentTransactionNestLevel();
	alert->conninfo = pstrdup(conninfo);
	alert->channel = pstrdup(channel);
	alert->payload = pstrdup(payload);
	alerts_to_forward = lappend(alerts_to_forward, alert);
	MemoryContextSwitchTo(old);
}
