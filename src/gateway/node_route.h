/*
 * With --route-by-node: the Citus node that holds each account's shards
 * (prefactor_account_node, asked on a connection to the configured database)
 * and a connection pool per node, so that prefactor-gateway sends an
 * account's calls to that node directly instead of through the coordinator,
 * which would relay each of them.
 *
 * Routing only: a node runs a call for its own shards itself and passes on
 * one for shards it no longer holds (after a rebalance), so a stale entry
 * costs a hop, never a wrong write. An account's node is kept for the TTL;
 * a node that cannot be reached is left alone for the TTL, its accounts'
 * calls going to the configured database meanwhile. Safe from any thread.
 */
#ifndef PREFACTOR_GATEWAY_NODE_ROUTE_H
#define PREFACTOR_GATEWAY_NODE_ROUTE_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "pool.h"

/* The statement node_route_pool runs on the connection it is given. */
#define NODE_ROUTE_STATEMENT_NAME "account_node"
#define NODE_ROUTE_STATEMENT_SQL \
	"SELECT n.node_name, n.node_port FROM prefactor.prefactor_account_node($1::prefactor.pfid) n"

/* The node pools' settings, as the configured database's pool has them. */
bool		node_route_init(const char *conninfo, int pool_size, int statement_timeout_ms,
							const pool_statement *statements, int nstatements, int ttl_s);
/*
 * The pool of the node holding an account's shards, or NULL for the
 * configured database (not distributed, the node left alone, the lookup
 * failed). On a miss the node is looked up on conn.
 */
gw_pool    *node_route_pool(PGconn *conn, const char *account);
/* A node pool could not connect: leave the node alone for the TTL. */
void		node_route_unreachable(gw_pool *pool);
void		node_route_close(void);

#endif
