/*
 * statuses.c
 *	  The statuses of runs and spans, in one place for the C code: the
 *	  guards judge rows by them and the SQL the C code runs names the open
 *	  ones through PREFACTOR_OPEN_STATUSES (guard.h).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "guard/guard.h"

/* The first two of each list are the open statuses (no finish time yet). */
static const char *const run_statuses[] =
{"pending", "active", "complete", "failed", "cancelled", "terminated"};
static const char *const span_statuses[] =
{"pending", "active", "complete", "failed", "cancelled"};

/* Position of status in a list, or -1. */
static int
status_index(const char *status, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(status, list[i]) == 0)
			return i;
	return -1;
}

/* Whether a status is open: pending or active, for runs and spans alike. */
bool
prefactor_status_open(const char *status)
{
	return status != NULL && status_index(status, run_statuses, 2) >= 0;
}

/* Whether a run status is known and, if so, whether it is open. */
bool
prefactor_run_status(const char *status, bool *open)
{
	int			i = status_index(status, run_statuses, lengthof(run_statuses));

	*open = i >= 0 && i < 2;
	return i >= 0;
}

/* Whether a span status is known and, if so, whether it is open. */
bool
prefactor_span_status(const char *status, bool *open)
{
	int			i = status_index(status, span_statuses, lengthof(span_statuses));

	*open = i >= 0 && i < 2;
	return i >= 0;
}

/* status_open(text): see prefactor_status_open. */
PG_FUNCTION_INFO_V1(prefactor_status_open_sql);
Datum
prefactor_status_open_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(prefactor_status_open(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}
