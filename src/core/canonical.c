/*
 * canonical.c
 *	  canonical_digest(jsonb): the SHA-256 of a document's canonical text,
 *	  the identity of versions and schema versions. jsonb already stores
 *	  objects with sorted, unique keys, and its text form has one fixed
 *	  spacing, so key order and whitespace never change the digest. Every
 *	  run start asks it twice, hence C rather than a SQL function planned
 *	  per call.
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(prefactor_canonical_digest);
Datum
prefactor_canonical_digest(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	char	   *text = JsonbToCString(NULL, &doc->root, VARSIZE(doc));
	/* hashed as UTF-8 whatever the database encoding, so digests travel */
	char	   *utf8 = pg_server_to_any(text, strlen(text), PG_UTF8);
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	bytea	   *digest = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) utf8, strlen(utf8)) < 0 ||
		pg_cryptohash_final(ctx, (uint8 *) VARDATA(digest), PG_SHA256_DIGEST_LENGTH) < 0)
	{
		const char *why = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute the SHA-256 digest of a document: %s", why)));
	}
	pg_cryptohash_free(ctx);
	SET_VARSIZE(digest, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	PG_RETURN_BYTEA_P(digest);
}
