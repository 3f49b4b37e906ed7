/*
 * excerpt.c
 *	  Client data in messages: an error, notice or log line quotes at most a
 *	  short excerpt of a value a client sent (a name, a status, a document),
 *	  never the whole of it, so a huge or personal payload reaches neither the
 *	  client's error nor the server log.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "core/excerpt.h"

/* Bytes of a value quoted whole; a longer value is cut to EXCERPT_KEEP. */
#define EXCERPT_MAX		64
#define EXCERPT_KEEP	48

/*
 * The value itself when it is short, otherwise its first characters followed
 * by "... (N bytes)"; cut on a character boundary of the server encoding.
 */
char *
prefactor_excerpt_len(const char *value, int len)
{
	int			keep;

	if (len <= EXCERPT_MAX)
		return pnstrdup(value, len);
	keep = pg_mbcliplen(value, len, EXCERPT_KEEP);
	return psprintf("%.*s... (%d bytes)", keep, value, len);
}

char *
prefactor_excerpt(const char *value)
{
	return prefactor_excerpt_len(value, strlen(value));
}

/* excerpt(text): what messages quote of a client's value. */
PG_FUNCTION_INFO_V1(prefactor_excerpt_sql);
Datum
prefactor_excerpt_sql(PG_FUNCTION_ARGS)
{
	text	   *value = PG_GETARG_TEXT_PP(0);

	PG_RETURN_TEXT_P(cstring_to_text(prefactor_excerpt_len(VARDATA_ANY(value),
														   VARSIZE_ANY_EXHDR(value))));
}
