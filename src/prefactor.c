/*
 * prefactor.c
 *	  Module entry point of the prefactor extension.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "guard/guard.h"
#include "validation/validation.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static bool prefactor_purging = false;
int			prefactor_span_clock_skew = 5000;

/* Defines the extension's settings. */
void
_PG_init(void)
{
	DefineCustomBoolVariable("prefactor.validate_spans",
							 "Validates span payloads and results against their declared JSON Schemas.",
							 "Off only for bulk loads whose conformance is checked later; spans stored "
							 "while it is off have NULL conformance.",
							 &prefactor_validate_spans, true, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("prefactor.jsonschema_format_assertion",
							 "Makes the JSON Schema \"format\" keyword an assertion instead of an annotation.",
							 NULL, &prefactor_format_assertion, false, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("prefactor.max_validation_errors",
							"Errors recorded per validated document.",
							NULL, &prefactor_max_validation_errors, 20, 1, 1000, PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("prefactor.purging",
							 "Set by prefactor_purge_runs for its own transaction: lets it delete finished runs.",
							 NULL, &prefactor_purging, false, PGC_USERSET,
							 GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("prefactor.span_clock_skew",
							"How long before its run a span may start, in milliseconds.",
							"Agents time spans on their own clocks; a span that starts earlier than its "
							"run by more than this is refused (spans_started_within_run); one within it "
							"moves the run's start back to its own.",
							&prefactor_span_clock_skew, 5000, 0, 3600 * 1000, PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	MarkGUCPrefixReserved("prefactor");
}
