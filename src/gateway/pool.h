/*
 * Small fixed pools of libpq connections for prefactor-gateway: one to the
 * configured database, and with --route-by-node one per Citus node the
 * gateway sends accounts' calls to (node_route.h).
 *
 * Each slot holds one connection, made lazily and made again when it broke
 * (a failed call, or a server that closed it while it sat idle). A caller
 * borrows a slot for one SQL call and gives it back.
 */
#ifndef PREFACTOR_GATEWAY_POOL_H
#define PREFACTOR_GATEWAY_POOL_H

#include <stdbool.h>
#include <libpq-fe.h>

/* The statements every pooled connection prepares, by name. */
typedef struct pool_statement
{
	const char *name;
	const char *sql;
	int			nparams;
} pool_statement;

typedef struct gw_pool gw_pool;

typedef struct pool_slot
{
	PGconn	   *conn;
	bool		busy;
	bool		broken;			/* make it again before the next use */
	int			index;
	gw_pool    *pool;			/* the pool it belongs to */
} pool_slot;

/*
 * A pool of size connections by conninfo (a libpq connection string), its
 * host and port replaced by host and port when given (a node of a Citus
 * cluster, named as its metadata names it); statement_timeout_ms: per call
 * (0: none). NULL when out of memory.
 */
gw_pool    *pool_create(const char *conninfo, const char *host, const char *port, int size,
						int statement_timeout_ms, const pool_statement *statements, int nstatements);
/* Connects every slot now (at start-up); answers how many connected. */
int			pool_warm(gw_pool *pool);
/* A slot with a live connection, or NULL when none became free within
 * wait_ms or the server cannot be reached; *unreachable tells which. */
pool_slot  *pool_acquire(gw_pool *pool, int wait_ms, bool *unreachable);
/* Gives a slot back to its pool; broken: its connection failed during the call. */
void		pool_release(pool_slot *slot, bool broken);
void		pool_destroy(gw_pool *pool);

#endif
