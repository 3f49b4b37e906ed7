/*
 * gunzip.c: Content-Encoding: gzip bodies, inflated under a size limit (see
 * gunzip.h).
 */
#include "gunzip.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

gunzip_result
gunzip(const char *in, size_t in_len, size_t max_out, char **out, size_t *out_len)
{
	z_stream	zs;
	char	   *buf = NULL;
	size_t		cap = 0;
	size_t		len = 0;
	gunzip_result result = GUNZIP_OK;
	int			rc;

	*out = NULL;
	*out_len = 0;
	if (in_len == 0 || in_len > UINT_MAX)
		return in_len == 0 ? GUNZIP_INVALID : GUNZIP_TOO_LARGE;
	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: gzip only, with its header and CRC checked */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return GUNZIP_NO_MEMORY;
	zs.next_in = (Bytef *) in;
	zs.avail_in = (uInt) in_len;
	for (;;)
	{
		if (len == cap)
		{
			/* room for what may still come, one byte over the limit to see it passed */
			size_t		grow = cap ? cap : (in_len * 4 > 16384 ? in_len * 4 : 16384);
			char	   *grown;

			if (cap >= max_out + 1)
			{
				result = GUNZIP_TOO_LARGE;
				break;
			}
			if (grow > max_out + 1 - cap)
				grow = max_out + 1 - cap;
			if (grow > UINT_MAX)
				grow = UINT_MAX;
			grown = realloc(buf, cap + grow + 1);
			if (grown == NULL)
			{
				result = GUNZIP_NO_MEMORY;
				break;
			}
			buf = grown;
			cap += grow;
		}
		zs.next_out = (Bytef *) buf + len;
		zs.avail_out = (uInt) (cap - len);
		rc = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
		if (len > max_out)
		{
			result = GUNZIP_TOO_LARGE;
			break;
		}
		if (rc == Z_STREAM_END)
		{
			/* the end of a member: another may follow; anything else is refused */
			if (zs.avail_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK)
			{
				result = GUNZIP_INVALID;
				break;
			}
			continue;
		}
		if (rc == Z_MEM_ERROR)
		{
			result = GUNZIP_NO_MEMORY;
			break;
		}
		if (rc == Z_BUF_ERROR && zs.avail_out > 0)
		{
			/* no progress with room to write: the input ended inside a member */
			result = GUNZIP_INVALID;
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR)
		{
			result = GUNZIP_INVALID;
			break;
		}
		if (zs.avail_in == 0 && zs.avail_out > 0)
		{
			/* all input taken, output room left, no end: truncated */
			result = GUNZIP_INVALID;
			break;
		}
	}
	inflateEnd(&zs);
	if (result != GUNZIP_OK)
	{
		free(buf);
		return result;
	}
	if (buf == NULL)
		buf = malloc(1);
	if (buf == NULL)
		return GUNZIP_NO_MEMORY;
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return GUNZIP_OK;
}
