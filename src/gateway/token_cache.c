/*
 * The token -> account cache of prefactor-gateway (see token_cache.h).
 *
 * A fixed table of sets of TOKEN_CACHE_WAYS entries, chosen by the token's
 * digest; one mutex guards it (each operation copies a few bytes under it;
 * the digest is computed outside). Entries are matched by the whole SHA-256
 * digest of the token, so two tokens never share one. A new entry takes a
 * free or expired place in its set, else the one that expires first.
 */
#include "token_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define TOKEN_CACHE_WAYS 4
#define DIGEST_SIZE 32

typedef struct token_entry
{
	unsigned char digest[DIGEST_SIZE];
	char		account[TOKEN_CACHE_ACCOUNT_SIZE];
	int64_t		expires_ms;		/* monotonic; 0: free */
} token_entry;

static token_entry *entries;
static size_t nsets;
static int64_t ttl_ms;
static pthread_mutex_t cache_mutex = PTHREAD_MUTEX_INITIALIZER;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
token_cache_init(int size, int ttl_s)
{
	nsets = size > 0 ? ((size_t) size + TOKEN_CACHE_WAYS - 1) / TOKEN_CACHE_WAYS : 0;
	ttl_ms = (int64_t) ttl_s * 1000;
	if (nsets == 0)
		return true;
	entries = calloc(nsets * TOKEN_CACHE_WAYS, sizeof(token_entry));
	return entries != NULL;
}

/* The digest of a token and the first entry of its set; NULL if nothing is kept. */
static token_entry *
set_of(const char *token, unsigned char digest[DIGEST_SIZE])
{
	uint64_t	h;

	if (nsets == 0 || !EVP_Digest(token, strlen(token), digest, NULL, EVP_sha256(), NULL))
		return NULL;
	memcpy(&h, digest, sizeof(h));
	return &entries[(h % nsets) * TOKEN_CACHE_WAYS];
}

/* The live entry of a digest in its set, or NULL; under the mutex. */
static token_entry *
find(token_entry *set, const unsigned char digest[DIGEST_SIZE], int64_t now)
{
	for (int i = 0; i < TOKEN_CACHE_WAYS; i++)
		if (set[i].expires_ms > now && CRYPTO_memcmp(set[i].digest, digest, DIGEST_SIZE) == 0)
			return &set[i];
	return NULL;
}

bool
token_cache_get(const char *token, char account[TOKEN_CACHE_ACCOUNT_SIZE])
{
	unsigned char digest[DIGEST_SIZE];
	token_entry *set = set_of(token, digest);
	token_entry *e;

	if (set == NULL)
		return false;
	pthread_mutex_lock(&cache_mutex);
	e = find(set, digest, now_ms());
	if (e != NULL)
		memcpy(account, e->account, TOKEN_CACHE_ACCOUNT_SIZE);
	pthread_mutex_unlock(&cache_mutex);
	return e != NULL;
}

void
token_cache_put(const char *token, const char *account)
{
	unsigned char digest[DIGEST_SIZE];
	token_entry *set;
	token_entry *e;
	int64_t		now = now_ms();

	if (strlen(account) >= TOKEN_CACHE_ACCOUNT_SIZE || (set = set_of(token, digest)) == NULL)
		return;
	pthread_mutex_lock(&cache_mutex);
	e = find(set, digest, now);
	for (int i = 0; e == NULL && i < TOKEN_CACHE_WAYS; i++)
		if (set[i].expires_ms <= now)
			e = &set[i];
	if (e == NULL)
	{
		/* the set is full: the entry that expires first goes */
		e = &set[0];
		for (int i = 1; i < TOKEN_CACHE_WAYS; i++)
			if (set[i].expires_ms < e->expires_ms)
				e = &set[i];
	}
	memcpy(e->digest, digest, DIGEST_SIZE);
	snprintf(e->account, TOKEN_CACHE_ACCOUNT_SIZE, "%s", account);
	e->expires_ms = now + ttl_ms;
	pthread_mutex_unlock(&cache_mutex);
}

void
token_cache_drop(const char *token)
{
	unsigned char digest[DIGEST_SIZE];
	token_entry *set = set_of(token, digest);
	token_entry *e;

	if (set == NULL)
		return;
	pthread_mutex_lock(&cache_mutex);
	e = find(set, digest, now_ms());
	if (e != NULL)
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&cache_mutex);
}

void
token_cache_close(void)
{
	free(entries);
	entries = NULL;
	nsets = 0;
}
