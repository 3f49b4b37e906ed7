/*
 * A small fixed pool of libpq connections for prefactor-gateway.
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

typedef struct pool_slot
{
	PGconn	   *conn;
	bool		busy;
	bool		broken;			/* make it again before the next use */
	int			index;
} pool_slot;

/* conninfo: libpq connection string; statement_timeout_ms: per call (0: none) */
bool		pool_init(const char *conninfo, int size, int statement_timeout_ms,
					  const pool_statement *statements, int nstatements);
/* Connects every slot now (at start-up); answers how many connected. */
int			pool_warm(void);
/* A slot with a live connection, or NULL when none became free within
 * wait_ms or the server cannot be reached; *unreachable tells which. */
pool_slot  *pool_acquire(int wait_ms, bool *unreachable);
/* Gives a slot back; broken: its connection failed during the call. */
void		pool_release(pool_slot *slot, bool broken);
void		pool_close(void);

#endif
