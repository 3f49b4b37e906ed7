/*
 * The connection pools of prefactor-gateway (see pool.h).
 *
 * A pool's slots are handed out under its mutex; connecting and calling happen
 * outside it. A connection is checked before each use without a round trip:
 * an idle connection has nothing to read, so a readable socket means the
 * server closed it (a restart, pg_terminate_backend) and it is made again
 * before any call is sent on it. A connection that failed during a call is
 * made again at its next use; the failed call itself is answered as an
 * error, never sent twice by the gateway (the client retries).
 */
#include "pool.h"
#include "log.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct gw_pool
{
	pool_slot  *slots;
	int			nslots;
	char	   *conninfo;
	char	   *host;			/* NULL: the connection string's */
	char	   *port;
	int			statement_timeout_ms;
	const pool_statement *statements;
	int			nstatements;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
};

gw_pool *
pool_create(const char *conninfo, const char *host, const char *port, int size,
			int statement_timeout_ms, const pool_statement *statements, int nstatements)
{
	pthread_condattr_t attr;
	gw_pool    *pool = calloc(1, sizeof(gw_pool));

	if (pool == NULL)
		return NULL;
	pool->slots = calloc(size, sizeof(pool_slot));
	pool->conninfo = strdup(conninfo);
	pool->host = host ? strdup(host) : NULL;
	pool->port = port ? strdup(port) : NULL;
	if (pool->slots == NULL || pool->conninfo == NULL || (host && !pool->host) || (port && !pool->port))
	{
		free(pool->slots);
		free(pool->conninfo);
		free(pool->host);
		free(pool->port);
		free(pool);
		return NULL;
	}
	for (int i = 0; i < size; i++)
	{
		pool->slots[i].index = i;
		pool->slots[i].broken = true;
		pool->slots[i].pool = pool;
	}
	pool->nslots = size;
	pool->statement_timeout_ms = statement_timeout_ms;
	pool->statements = statements;
	pool->nstatements = nstatements;
	pthread_mutex_init(&pool->mutex, NULL);
	/* waits are timed on the monotonic clock */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->cond, &attr);
	pthread_condattr_destroy(&attr);
	return pool;
}

/*
 * Server notices (a RAISE NOTICE, Citus's remote command log) are logged by
 * severity and SQLSTATE only: their text may quote a call's arguments.
 */
static void
pool_notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	(void) arg;
	gw_log("database %s (SQLSTATE %s)", severity ? severity : "notice", state ? state : "none");
}

/* A fresh connection for a slot, with its session settings and statements. */
static PGconn *
pool_connect(gw_pool *pool, int index)
{
	/*
	 * Defaults first, then the configured connection string, which may
	 * override them (expand_dbname: the dbname value is a connection
	 * string), then a node's host and port, which override its.
	 */
	const char *keys[6] = {"connect_timeout", "application_name", "dbname"};
	const char *values[6] = {"10", "prefactor-gateway", pool->conninfo};
	int			n = 3;
	PGconn	   *conn;
	char		set[96];
	PGresult   *res;

	if (pool->host)
	{
		keys[n] = "host";
		values[n++] = pool->host;
	}
	if (pool->port)
	{
		keys[n] = "port";
		values[n++] = pool->port;
	}
	keys[n] = values[n] = NULL;
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL)
		return NULL;
	if (PQstatus(conn) != CONNECTION_OK)
	{
		/* libpq's message names host and user, never a password */
		gw_log("database connection %d%s%s%s%s failed: %s", index, pool->host ? " to node " : "",
			   pool->host ? pool->host : "", pool->port ? ":" : "", pool->port ? pool->port : "",
			   PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeReceiver(conn, pool_notice, NULL);
	snprintf(set, sizeof(set), "SET statement_timeout = %d", pool->statement_timeout_ms);
	res = PQexec(conn, set);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		gw_log("database connection %d: cannot set statement_timeout (SQLSTATE %s)", index,
			   PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "none");
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	for (int i = 0; i < pool->nstatements; i++)
	{
		res = PQprepare(conn, pool->statements[i].name, pool->statements[i].sql,
						pool->statements[i].nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			gw_log("database connection %d: cannot prepare %s (SQLSTATE %s); is the prefactor extension "
				   "installed in this database?", index, pool->statements[i].name, state ? state : "none");
			PQclear(res);
			PQfinish(conn);
			return NULL;
		}
		PQclear(res);
	}
	return conn;
}

/* Whether an idle connection is still usable, without a round trip. */
static bool
pool_idle_alive(PGconn *conn)
{
	struct pollfd pfd;

	if (PQstatus(conn) != CONNECTION_OK)
		return false;
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (pfd.fd < 0)
		return false;
	/*
	 * Nothing to read, as it should be: the server sends an idle session
	 * nothing but the error before it closes it (or a notice, rare enough to
	 * cost a reconnect).
	 */
	return poll(&pfd, 1, 0) == 0;
}

static void
deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long) (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L)
	{
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

pool_slot *
pool_acquire(gw_pool *pool, int wait_ms, bool *unreachable)
{
	struct timespec deadline;
	pool_slot  *slot = NULL;

	*unreachable = false;
	deadline_after(&deadline, wait_ms);
	pthread_mutex_lock(&pool->mutex);
	for (;;)
	{
		/* prefer a slot with a connection over one that must connect */
		for (int i = 0; i < pool->nslots; i++)
			if (!pool->slots[i].busy && (slot == NULL || (slot->broken && !pool->slots[i].broken)))
				slot = &pool->slots[i];
		if (slot != NULL)
			break;
		if (pthread_cond_timedwait(&pool->cond, &pool->mutex, &deadline) == ETIMEDOUT)
		{
			pthread_mutex_unlock(&pool->mutex);
			return NULL;
		}
	}
	slot->busy = true;
	pthread_mutex_unlock(&pool->mutex);

	if (!slot->broken && !pool_idle_alive(slot->conn))
	{
		gw_log("database connection %d was closed by the server; reconnecting", slot->index);
		slot->broken = true;
	}
	if (slot->broken)
	{
		if (slot->conn != NULL)
			PQfinish(slot->conn);
		slot->conn = pool_connect(pool, slot->index);
		if (slot->conn == NULL)
		{
			*unreachable = true;
			pool_release(slot, true);
			return NULL;
		}
		slot->broken = false;
	}
	return slot;
}

void
pool_release(pool_slot *slot, bool broken)
{
	gw_pool    *pool = slot->pool;

	pthread_mutex_lock(&pool->mutex);
	if (broken)
		slot->broken = true;
	slot->busy = false;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->mutex);
}

int
pool_warm(gw_pool *pool)
{
	int			connected = 0;

	for (int i = 0; i < pool->nslots; i++)
	{
		pool_slot  *slot = &pool->slots[i];
		bool		ok;

		pthread_mutex_lock(&pool->mutex);
		if (slot->busy || !slot->broken)
		{
			connected += !slot->broken;
			pthread_mutex_unlock(&pool->mutex);
			continue;
		}
		slot->busy = true;
		pthread_mutex_unlock(&pool->mutex);
		slot->conn = pool_connect(pool, i);
		ok = slot->conn != NULL;
		connected += ok;
		pthread_mutex_lock(&pool->mutex);
		slot->broken = !ok;
		slot->busy = false;
		pthread_cond_signal(&pool->cond);
		pthread_mutex_unlock(&pool->mutex);
	}
	return connected;
}

void
pool_destroy(gw_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->mutex);
	for (int i = 0; i < pool->nslots; i++)
	{
		if (pool->slots[i].conn != NULL)
			PQfinish(pool->slots[i].conn);
		pool->slots[i].conn = NULL;
	}
	pthread_mutex_unlock(&pool->mutex);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->mutex);
	free(pool->slots);
	free(pool->conninfo);
	free(pool->host);
	free(pool->port);
	free(pool);
}
