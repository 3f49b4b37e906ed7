/*
 * Content-Encoding: gzip request bodies for prefactor-gateway, inflated with
 * zlib under a limit on the inflated size (a gzip bomb stops at the limit:
 * memory and work are bounded by it). Pure C, no libmicrohttpd.
 */
#ifndef PREFACTOR_GATEWAY_GUNZIP_H
#define PREFACTOR_GATEWAY_GUNZIP_H

#include <stddef.h>

typedef enum gunzip_result
{
	GUNZIP_OK = 0,
	GUNZIP_INVALID,				/* not gzip, corrupt, truncated, or data after it: 400 */
	GUNZIP_TOO_LARGE,			/* inflates to more than max_out bytes: 413 */
	GUNZIP_NO_MEMORY
} gunzip_result;

/*
 * The gzip data in[0..in_len) inflated (one or more gzip members, as RFC 1952
 * allows): *out (malloc'd, NUL-terminated, the caller frees it) and *out_len
 * on success, NULL otherwise.
 */
gunzip_result gunzip(const char *in, size_t in_len, size_t max_out, char **out, size_t *out_len);

#endif
