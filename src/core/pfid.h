/*
 * pfid.h
 *	  Prefactor's public identifier: 48-bit millisecond timestamp, 30-bit
 *	  partition, 80 random bits, stored as the 160-bit big-endian number
 *	  (two leading zero bits) so that memcmp order is time, partition,
 *	  randomness.
 */
#ifndef PREFACTOR_PFID_H
#define PREFACTOR_PFID_H

#include "postgres.h"
#include "fmgr.h"

#define PFID_LEN			20
#define PFID_TEXT_LEN		32
#define PFID_MAX_PARTITION	1073741823
#define PFID_MAX_MS			INT64CONST(281474976710655)	/* 2^48 - 1 */

typedef struct Pfid
{
	uint8		data[PFID_LEN];
} Pfid;

#define DatumGetPfidP(X)		((Pfid *) DatumGetPointer(X))
#define PfidPGetDatum(X)		PointerGetDatum(X)
#define PG_GETARG_PFID_P(n)		DatumGetPfidP(PG_GETARG_DATUM(n))
#define PG_RETURN_PFID_P(x)		return PfidPGetDatum(x)

extern Pfid *pfid_make(int64 ms, int32 partition, const uint8 *randomness);
extern Pfid *pfid_make_random(int64 ms, int32 partition);
extern int32 pfid_get_partition(const Pfid *id);
extern int64 pfid_now_ms(void);
extern char *pfid_text(const Pfid *id);
extern bool pfid_try_parse(const char *str, size_t len, Pfid *id);

#endif
