/*
 * bounded_buf.h: a NUL-terminated byte buffer that grows by doubling up to a
 * limit (a request body as it arrives, OTLP protobuf decoded into JSON).
 */
#ifndef PREFACTOR_GATEWAY_BOUNDED_BUF_H
#define PREFACTOR_GATEWAY_BOUNDED_BUF_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Appends n bytes of s to *buf (*len bytes used, *cap allocated, first
 * allocation initial bytes) and NUL-terminates it; the caller has checked that
 * *len + n stays within max. False when out of memory (the buffer unchanged).
 */
static inline bool
bounded_append(char **buf, size_t *len, size_t *cap, size_t initial, size_t max, const char *s, size_t n)
{
	if (*len + n + 1 > *cap)
	{
		size_t		grow = *cap ? *cap : initial;
		char	   *grown;

		while (grow < *len + n + 1)
			grow *= 2;
		if (grow > max + 1)
			grow = max + 1;
		grown = realloc(*buf, grow);
		if (grown == NULL)
			return false;
		*buf = grown;
		*cap = grow;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

#endif
