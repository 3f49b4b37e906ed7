/*
 * The account of each ingest token prefactor-gateway has seen, so that it
 * calls the SDK functions by account (prefactor_sdk_call, which Citus sends
 * whole to the account's worker) without looking the account up each time.
 *
 * Routing only: every call still checks its token in the database, so an
 * entry that is stale (the token revoked or expired since) costs one refused
 * call, never a call accepted. An entry is kept for at most the TTL; the
 * cache holds at most its size in entries (the oldest in a full set goes).
 * A token is kept only as its SHA-256 digest. Safe to call from any thread.
 */
#ifndef PREFACTOR_GATEWAY_TOKEN_CACHE_H
#define PREFACTOR_GATEWAY_TOKEN_CACHE_H

#include <stdbool.h>

/* an account id as text (a pfid: 32 characters) and its terminator, with room */
#define TOKEN_CACHE_ACCOUNT_SIZE 48

/* size: entries (0: nothing is kept); ttl_s: seconds an entry is used */
bool		token_cache_init(int size, int ttl_s);
/* Copies the cached account of a token into account; false if none. */
bool		token_cache_get(const char *token, char account[TOKEN_CACHE_ACCOUNT_SIZE]);
/* Keeps the account of a token the database answered for. */
void		token_cache_put(const char *token, const char *account);
/* Forgets a token (its call by account was refused). */
void		token_cache_drop(const char *token);
void		token_cache_close(void);

#endif
