/*
 * pfid.c
 *	  The prefactor.pfid type: text and binary I/O, comparison support for
 *	  btree and hash operator classes, generation and field accessors.
 */
#include "postgres.h"

#include "access/hash.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"
#include "utils/timestamp.h"

#include "core/pfid.h"
#include "core/excerpt.h"

static const char pfid_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Milliseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
/* 80 random bits per id */
#define PFID_RANDOM_BYTES	10
#define UNIX_TO_PG_EPOCH_MS	(INT64CONST(946684800000))

/* Decode one Crockford Base32 character (either case); -1 if not in the alphabet. */
static int
pfid_decode_char(char c)
{
	if (c >= 'A' && c <= 'Z')
		c = c - 'A' + 'a';
	for (int i = 0; i < 32; i++)
		if (pfid_alphabet[i] == c)
			return i;
	return -1;
}

/* Write the low nbits of value into buf at bit offset start (MSB first). */
static void
pfid_put_bits(uint8 *buf, int start, int nbits, uint64 value)
{
	for (int i = 0; i < nbits; i++)
	{
		int			bit = start + i;

		if ((value >> (nbits - 1 - i)) & 1)
			buf[bit / 8] |= (uint8) (0x80 >> (bit % 8));
	}
}

/* Read nbits from buf at bit offset start (MSB first). */
static uint64
pfid_get_bits(const uint8 *buf, int start, int nbits)
{
	uint64		v = 0;

	for (int i = 0; i < nbits; i++)
	{
		int			bit = start + i;

		v = (v << 1) | ((buf[bit / 8] >> (7 - bit % 8)) & 1);
	}
	return v;
}

/* Build a pfid from its three fields; randomness is 10 bytes. */
Pfid *
pfid_make(int64 ms, int32 partition, const uint8 *randomness)
{
	Pfid	   *id;

	if (ms < 0 || ms > PFID_MAX_MS)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("pfid timestamp %lld ms is out of range", (long long) ms),
				 errdetail("A pfid holds milliseconds since 1970-01-01 in 48 bits.")));
	if (partition < 0 || partition > PFID_MAX_PARTITION)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("pfid partition %d is out of range", partition),
				 errhint("Use a partition from 0 to %d.", PFID_MAX_PARTITION)));

	/* 2 zero bits, 48 timestamp bits, 30 partition bits, 80 random bits */
	id = (Pfid *) palloc0(sizeof(Pfid));
	pfid_put_bits(id->data, 2, 48, (uint64) ms);
	pfid_put_bits(id->data, 50, 30, (uint64) partition);
	memcpy(id->data + 10, randomness, 10);
	return id;
}

/* Build a pfid with randomness from pg_strong_random. */
Pfid *
pfid_make_random(int64 ms, int32 partition)
{
	/*
	 * Strong random bytes are drawn 128 ids at a time: one call to the
	 * system's generator costs about as much as the rest of a span's insert
	 * path. The pool belongs to the process that filled it, so a child forked
	 * after a fill never reuses its parent's bytes.
	 */
	static uint8 pool[PFID_RANDOM_BYTES * 128];
	static int	pool_left = 0;
	static int	pool_owner = 0;
	const uint8 *rnd;

	if (pool_left == 0 || pool_owner != MyProcPid)
	{
		if (!pg_strong_random(pool, sizeof(pool)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random bytes for a pfid")));
		pool_left = sizeof(pool) / PFID_RANDOM_BYTES;
		pool_owner = MyProcPid;
	}
	pool_left--;
	rnd = pool + pool_left * PFID_RANDOM_BYTES;
	return pfid_make(ms, partition, rnd);
}

/* The partition field of a pfid. */
int32
pfid_get_partition(const Pfid *id)
{
	return (int32) pfid_get_bits(id->data, 50, 30);
}

/* The timestamp field of a pfid, in Unix milliseconds. */
static int64
pfid_get_ms(const Pfid *id)
{
	return (int64) pfid_get_bits(id->data, 2, 48);
}

/* The current time in Unix milliseconds. */
int64
pfid_now_ms(void)
{
	TimestampTz now = GetCurrentTimestamp();

	return now / 1000 + UNIX_TO_PG_EPOCH_MS;
}

/*
 * Parses the 32-character text form into *id. On a malformed text returns
 * false with *bad set to the 0-based position of the first bad character, or
 * to -1 when the length is wrong.
 */
static bool
pfid_parse(const char *str, size_t len, Pfid *id, int *bad)
{
	int			bit = 0;

	*bad = -1;
	if (len != PFID_TEXT_LEN)
		return false;
	memset(id, 0, sizeof(Pfid));
	for (size_t i = 0; i < len; i++)
	{
		int			v = pfid_decode_char(str[i]);

		/* a first character above 7 would overflow the 48-bit timestamp */
		if (v < 0 || (i == 0 && v > 7))
		{
			*bad = (int) i;
			return false;
		}
		/* write 5 bits, most significant first, into the 160-bit buffer */
		for (int b = 4; b >= 0; b--, bit++)
			if (v & (1 << b))
				id->data[bit / 8] |= (uint8) (0x80 >> (bit % 8));
	}
	return true;
}

PG_FUNCTION_INFO_V1(pfid_in);
Datum
pfid_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		len = strlen(str);
	Pfid	   *id = (Pfid *) palloc(sizeof(Pfid));
	int			bad;

	if (pfid_parse(str, len, id, &bad))
		PG_RETURN_PFID_P(id);
	if (bad < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type pfid: \"%s\"", prefactor_excerpt(str)),
				 errdetail("A pfid is %d Crockford Base32 characters, not %zu.",
						   PFID_TEXT_LEN, len)));
	if (pfid_decode_char(str[bad]) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type pfid: \"%s\"", prefactor_excerpt(str)),
				 errdetail("Character \"%c\" at position %d is not in the alphabet \"%s\" (case-insensitive).",
						   str[bad], bad + 1, pfid_alphabet)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type pfid: \"%s\"", prefactor_excerpt(str)),
			 errdetail("The first character must be 0 to 7; a larger one overflows the 48-bit timestamp.")));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * try_pfid(text): the text as a pfid, or NULL when it is not one. The API
 * functions accept a name or an id in one argument and ask this first.
 */
PG_FUNCTION_INFO_V1(pfid_try_text);
Datum
pfid_try_text(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	Pfid	   *id = (Pfid *) palloc(sizeof(Pfid));

	if (!pfid_try_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), id))
		PG_RETURN_NULL();
	PG_RETURN_PFID_P(id);
}

/* try_pfid for C: whether str (len bytes) is a pfid's text, parsed into *id. */
bool
pfid_try_parse(const char *str, size_t len, Pfid *id)
{
	int			bad;

	return pfid_parse(str, len, id, &bad);
}

PG_FUNCTION_INFO_V1(pfid_out);
Datum
pfid_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pfid_text(PG_GETARG_PFID_P(0)));
}

/* The 32-character text form of a pfid. */
char *
pfid_text(const Pfid *id)
{
	char	   *out = palloc(PFID_TEXT_LEN + 1);
	int			bit = 0;

	for (int i = 0; i < PFID_TEXT_LEN; i++)
	{
		int			v = 0;

		for (int b = 0; b < 5; b++, bit++)
			v = (v << 1) | ((id->data[bit / 8] >> (7 - bit % 8)) & 1);
		out[i] = pfid_alphabet[v];
	}
	out[PFID_TEXT_LEN] = '\0';
	return out;
}

PG_FUNCTION_INFO_V1(pfid_recv);
Datum
pfid_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	Pfid	   *id = (Pfid *) palloc(sizeof(Pfid));

	memcpy(id->data, pq_getmsgbytes(buf, PFID_LEN), PFID_LEN);
	if (id->data[0] & 0xC0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary pfid: the two leading bits must be zero")));
	PG_RETURN_PFID_P(id);
}

PG_FUNCTION_INFO_V1(pfid_send);
Datum
pfid_send(PG_FUNCTION_ARGS)
{
	Pfid	   *id = PG_GETARG_PFID_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, (char *) id->data, PFID_LEN);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Three-way comparison: memcmp of the big-endian bytes. */
static inline int
pfid_cmp_internal(const Pfid *a, const Pfid *b)
{
	return memcmp(a->data, b->data, PFID_LEN);
}

#define PFID_CMP_FN(name, expr) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	int c = pfid_cmp_internal(PG_GETARG_PFID_P(0), PG_GETARG_PFID_P(1)); \
	PG_RETURN_BOOL(expr); \
}

PFID_CMP_FN(pfid_lt, c < 0)
PFID_CMP_FN(pfid_le, c <= 0)
PFID_CMP_FN(pfid_eq, c == 0)
PFID_CMP_FN(pfid_ne, c != 0)
PFID_CMP_FN(pfid_ge, c >= 0)
PFID_CMP_FN(pfid_gt, c > 0)

PG_FUNCTION_INFO_V1(pfid_cmp);
Datum
pfid_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pfid_cmp_internal(PG_GETARG_PFID_P(0), PG_GETARG_PFID_P(1)));
}

/* Sort support comparator, so btree builds and sorts avoid fmgr overhead. */
static int
pfid_fastcmp(Datum a, Datum b, SortSupport ssup)
{
	return pfid_cmp_internal(DatumGetPfidP(a), DatumGetPfidP(b));
}

PG_FUNCTION_INFO_V1(pfid_sortsupport);
Datum
pfid_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = pfid_fastcmp;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(pfid_hash);
Datum
pfid_hash(PG_FUNCTION_ARGS)
{
	return hash_any(PG_GETARG_PFID_P(0)->data, PFID_LEN);
}

PG_FUNCTION_INFO_V1(pfid_hash_extended);
Datum
pfid_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_any_extended(PG_GETARG_PFID_P(0)->data, PFID_LEN,
							 PG_GETARG_INT64(1));
}

/* Convert a timestamptz to Unix milliseconds, rejecting infinities. */
static int64
timestamptz_to_unix_ms(TimestampTz ts)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot make a pfid for an infinite timestamp")));
	/* floor division so instants before 2000 round down correctly */
	return (ts >= 0 ? ts / 1000 : -((-ts + 999) / 1000)) + UNIX_TO_PG_EPOCH_MS;
}

PG_FUNCTION_INFO_V1(pfid_generate_now);
Datum
pfid_generate_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_PFID_P(pfid_make_random(pfid_now_ms(), PG_GETARG_INT32(0)));
}

PG_FUNCTION_INFO_V1(pfid_generate_at);
Datum
pfid_generate_at(PG_FUNCTION_ARGS)
{
	int64		ms = timestamptz_to_unix_ms(PG_GETARG_TIMESTAMPTZ(1));

	PG_RETURN_PFID_P(pfid_make_random(ms, PG_GETARG_INT32(0)));
}

PG_FUNCTION_INFO_V1(pfid_build);
Datum
pfid_build(PG_FUNCTION_ARGS)
{
	int64		ms = PG_GETARG_INT64(0);
	int32		partition = PG_GETARG_INT32(1);
	bytea	   *rnd = PG_GETARG_BYTEA_PP(2);

	if (VARSIZE_ANY_EXHDR(rnd) != 10)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pfid randomness must be 10 bytes, not %zu",
						(size_t) VARSIZE_ANY_EXHDR(rnd))));
	PG_RETURN_PFID_P(pfid_make(ms, partition, (uint8 *) VARDATA_ANY(rnd)));
}

PG_FUNCTION_INFO_V1(pfid_timestamp);
Datum
pfid_timestamp(PG_FUNCTION_ARGS)
{
	int64		ms = pfid_get_ms(PG_GETARG_PFID_P(0));

	PG_RETURN_TIMESTAMPTZ((ms - UNIX_TO_PG_EPOCH_MS) * 1000);
}

PG_FUNCTION_INFO_V1(pfid_partition);
Datum
pfid_partition(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pfid_get_partition(PG_GETARG_PFID_P(0)));
}

PG_FUNCTION_INFO_V1(pfid_unix_ms);
Datum
pfid_unix_ms(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(pfid_get_ms(PG_GETARG_PFID_P(0)));
}

PG_FUNCTION_INFO_V1(pfid_randomness);
Datum
pfid_randomness(PG_FUNCTION_ARGS)
{
	Pfid	   *id = PG_GETARG_PFID_P(0);
	bytea	   *out = palloc(VARHDRSZ + 10);

	SET_VARSIZE(out, VARHDRSZ + 10);
	memcpy(VARDATA(out), id->data + 10, 10);
	PG_RETURN_BYTEA_P(out);
}
