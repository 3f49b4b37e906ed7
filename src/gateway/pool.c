/*
 * The connection pool of prefactor-gateway (see pool.h).
 *
 * Slots are handed out under one mutex; connecting and calling happen
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

static pool_slot *slots;
static int	nslots;
static char *pool_conninfo;
static int	pool_statement_timeout_ms;
static const pool_statement *pool_statements;
static int	pool_nstatements;
static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond;

bool
pool_init(const char *conninfo, int size, int statement_timeout_ms,
		  const pool_statement *statements, int nstatements)
{
	pthread_condattr_t attr;

	slots = calloc(size, sizeof(pool_slot));
	pool_conninfo = strdup(conninfo);
	if (slots == NULL || pool_conninfo == NULL)
		return false;
	for (int i = 0; i < size; i++)
	{
		slots[i].index = i;
		slots[i].broken = true;
	}
	nslots = size;
	pool_statement_timeout_ms = statement_timeout_ms;
	pool_statements = statements;
	pool_nstatements = nstatements;
	/* waits are timed on the monotonic clock */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool_cond, &attr);
	pthread_condattr_destroy(&attr);
	return true;
}

/* A fresh connection for a slot, with its session settings and statements. */
static PGconn *
pool_connect(int index)
{
	/*
	 * Defaults first, then the configured connection string, which may
	 * override them (expand_dbname: the dbname value is a connection string).
	 */
	const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *const values[] = {"10", "prefactor-gateway", pool_conninfo, NULL};
	PGconn	   *conn = PQconnectdbParams(keys, values, 1);
	char		set[96];
	PGresult   *res;

	if (conn == NULL)
		return NULL;
	if (PQstatus(conn) != CONNECTION_OK)
	{
		/* libpq's message names host and user, never a password */
		gw_log("database connection %d failed: %s", index, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	snprintf(set, sizeof(set), "SET statement_timeout = %d", pool_statement_timeout_ms);
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
	for (int i = 0; i < pool_nstatements; i++)
	{
		res = PQprepare(conn, pool_statements[i].name, pool_statements[i].sql,
						pool_statements[i].nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			gw_log("database connection %d: cannot prepare %s (SQLSTATE %s); is the prefactor extension "
				   "installed in this database?", index, pool_statements[i].name, state ? state : "none");
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
pool_acquire(int wait_ms, bool *unreachable)
{
	struct timespec deadline;
	pool_slot  *slot = NULL;

	*unreachable = false;
	deadline_after(&deadline, wait_ms);
	pthread_mutex_lock(&pool_mutex);
	for (;;)
	{
		/* prefer a slot with a connection over one that must connect */
		for (int i = 0; i < nslots; i++)
			if (!slots[i].busy && (slot == NULL || (slot->broken && !slots[i].broken)))
				slot = &slots[i];
		if (slot != NULL)
			break;
		if (pthread_cond_timedwait(&pool_cond, &pool_mutex, &deadline) == ETIMEDOUT)
		{
			pthread_mutex_unlock(&pool_mutex);
			return NULL;
		}
	}
	slot->busy = true;
	pthread_mutex_unlock(&pool_mutex);

	if (!slot->broken && !pool_idle_alive(slot->conn))
	{
		gw_log("database connection %d was closed by the server; reconnecting", slot->index);
		slot->broken = true;
	}
	if (slot->broken)
	{
		if (slot->conn != NULL)
			PQfinish(slot->conn);
		slot->conn = pool_connect(slot->index);
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
	pthread_mutex_lock(&pool_mutex);
	if (broken)
		slot->broken = true;
	slot->busy = false;
	pthread_cond_signal(&pool_cond);
	pthread_mutex_unlock(&pool_mutex);
}

int
pool_warm(void)
{
	int			connected = 0;

	for (int i = 0; i < nslots; i++)
	{
		pool_slot  *slot = &slots[i];
		bool		ok;

		pthread_mutex_lock(&pool_mutex);
		if (slot->busy || !slot->broken)
		{
			connected += !slot->broken;
			pthread_mutex_unlock(&pool_mutex);
			continue;
		}
		slot->busy = true;
		pthread_mutex_unlock(&pool_mutex);
		slot->conn = pool_connect(i);
		ok = slot->conn != NULL;
		connected += ok;
		pthread_mutex_lock(&pool_mutex);
		slot->broken = !ok;
		slot->busy = false;
		pthread_cond_signal(&pool_cond);
		pthread_mutex_unlock(&pool_mutex);
	}
	return connected;
}

void
pool_close(void)
{
	pthread_mutex_lock(&pool_mutex);
	for (int i = 0; i < nslots; i++)
	{
		if (slots[i].conn != NULL)
			PQfinish(slots[i].conn);
		slots[i].conn = NULL;
	}
	pthread_mutex_unlock(&pool_mutex);
	free(slots);
	free(pool_conninfo);
	slots = NULL;
	nslots = 0;
}
