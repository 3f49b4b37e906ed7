/*
 * Routing of accounts' calls to their Citus nodes (see node_route.h).
 *
 * Accounts map to nodes in a direct-mapped table (an account's slot by a
 * hash of its id; a new account takes the slot over); nodes are few, found
 * by host and port in a short list, each with a pool made at its first use
 * and kept until the gateway stops. One mutex guards both; lookups in the
 * database and connecting happen outside it.
 */
#include "node_route.h"
#include "log.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUTE_ACCOUNTS	1024		/* accounts kept */
#define ROUTE_NODES		64			/* nodes a gateway sends calls to, at most */
#define ACCOUNT_SIZE	48			/* a pfid's 32 characters, with room */
#define NO_NODE			(-1)		/* the configured database */

typedef struct route_entry
{
	char		account[ACCOUNT_SIZE];	/* "" = empty */
	int			node;			/* index into nodes, or NO_NODE */
	time_t		expires;
} route_entry;

typedef struct route_node
{
	char	   *host;
	char	   *port;
	gw_pool    *pool;
	time_t		left_until;		/* unreachable: not used before then */
} route_node;

static route_entry *entries;
static route_node nodes[ROUTE_NODES];
static int	nnodes;
static pthread_mutex_t route_mutex = PTHREAD_MUTEX_INITIALIZER;

static char *route_conninfo;
static int	route_pool_size;
static int	route_timeout_ms;
static const pool_statement *route_statements;
static int	route_nstatements;
static int	route_ttl_s;

bool
node_route_init(const char *conninfo, int pool_size, int statement_timeout_ms,
				const pool_statement *statements, int nstatements, int ttl_s)
{
	entries = calloc(ROUTE_ACCOUNTS, sizeof(route_entry));
	route_conninfo = strdup(conninfo);
	if (entries == NULL || route_conninfo == NULL)
		return false;
	route_pool_size = pool_size;
	route_timeout_ms = statement_timeout_ms;
	route_statements = statements;
	route_nstatements = nstatements;
	route_ttl_s = ttl_s;
	return true;
}

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* FNV-1a of an account id: its slot. */
static route_entry *
entry_of(const char *account)
{
	uint32_t	h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *) account; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &entries[h % ROUTE_ACCOUNTS];
}

/* The index of a node (made at its first use), NO_NODE when the list is full; under the mutex. */
static int
node_index(const char *host, const char *port)
{
	for (int i = 0; i < nnodes; i++)
		if (strcmp(nodes[i].host, host) == 0 && strcmp(nodes[i].port, port) == 0)
			return i;
	if (nnodes == ROUTE_NODES)
	{
		gw_log("more than %d Citus nodes: calls for node %s:%s go to the configured database",
			   ROUTE_NODES, host, port);
		return NO_NODE;
	}
	nodes[nnodes].host = strdup(host);
	nodes[nnodes].port = strdup(port);
	nodes[nnodes].pool = pool_create(route_conninfo, host, port, route_pool_size, route_timeout_ms,
									 route_statements, route_nstatements);
	if (nodes[nnodes].host == NULL || nodes[nnodes].port == NULL || nodes[nnodes].pool == NULL)
	{
		free(nodes[nnodes].host);
		free(nodes[nnodes].port);
		pool_destroy(nodes[nnodes].pool);
		return NO_NODE;
	}
	nodes[nnodes].left_until = 0;
	return nnodes++;
}

/* The pool of a node index now, or NULL (the configured database); under the mutex. */
static gw_pool *
pool_of(int node, time_t now)
{
	if (node == NO_NODE || nodes[node].left_until > now)
		return NULL;
	return nodes[node].pool;
}

gw_pool *
node_route_pool(PGconn *conn, const char *account)
{
	route_entry *e;
	time_t		now = now_s();
	gw_pool    *pool;
	PGresult   *res;
	int			node = NO_NODE;

	if (strlen(account) >= ACCOUNT_SIZE)
		return NULL;
	pthread_mutex_lock(&route_mutex);
	e = entry_of(account);
	if (e->account[0] != '\0' && strcmp(e->account, account) == 0 && e->expires > now)
	{
		pool = pool_of(e->node, now);
		pthread_mutex_unlock(&route_mutex);
		return pool;
	}
	pthread_mutex_unlock(&route_mutex);

	/* not kept: ask the database (no row: not distributed) */
	res = PQexecPrepared(conn, NODE_ROUTE_STATEMENT_NAME, 1, &account, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 2)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		gw_log("the node of an account could not be looked up (SQLSTATE %s); calling the configured database",
			   state ? state : "none");
		PQclear(res);
		return NULL;
	}
	pthread_mutex_lock(&route_mutex);
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && !PQgetisnull(res, 0, 1))
		node = node_index(PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	e = entry_of(account);
	snprintf(e->account, sizeof(e->account), "%s", account);
	e->node = node;
	e->expires = now + route_ttl_s;
	pool = pool_of(node, now);
	pthread_mutex_unlock(&route_mutex);
	return pool;
}

void
node_route_unreachable(gw_pool *pool)
{
	pthread_mutex_lock(&route_mutex);
	for (int i = 0; i < nnodes; i++)
		if (nodes[i].pool == pool)
		{
			nodes[i].left_until = now_s() + route_ttl_s;
			gw_log("Citus node %s:%s cannot be reached: its accounts' calls go to the configured database "
				   "for %d s", nodes[i].host, nodes[i].port, route_ttl_s);
		}
	pthread_mutex_unlock(&route_mutex);
}

void
node_route_close(void)
{
	pthread_mutex_lock(&route_mutex);
	for (int i = 0; i < nnodes; i++)
	{
		pool_destroy(nodes[i].pool);
		free(nodes[i].host);
		free(nodes[i].port);
	}
	nnodes = 0;
	free(entries);
	entries = NULL;
	free(route_conninfo);
	route_conninfo = NULL;
	pthread_mutex_unlock(&route_mutex);
}
