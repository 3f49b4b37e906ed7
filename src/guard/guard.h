/*
 * guard.h
 *	  The guard triggers of run data (src/guard): the run lock and what a
 *	  span insert reads of its run, and the row rules shared by the triggers
 *	  of spans and instances.
 */
#ifndef PREFACTOR_GUARD_H
#define PREFACTOR_GUARD_H

#include "postgres.h"

#include "access/htup.h"
#include "storage/itemptr.h"
#include "fmgr.h"
#include "utils/numeric.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "core/pfid.h"

/* What a span insert needs of its run, read under the run's row lock. */
typedef struct RunState
{
	char	   *status;
	Pfid		schema_version;
	char	   *termination_reason;	/* NULL unless terminated */
	bool		has_revision;	/* scored under a risk profile revision */
	Pfid		revision;
	TimestampTz started_at;		/* DT_NOBEGIN while pending */
	Numeric		risk_score;		/* as last rolled up; NULL when unscored */
	int			risk_level;		/* RISK_LEVEL_NONE when unscored */
	int			max_classification; /* 0 = none, 1 = public .. 5 = secret */
	Oid			relid;			/* the runs table locked in; invalid when locked by a query */
	ItemPointerData tid;		/* the locked version; invalid when locked by a query */
	bool		keys_checked;	/* that version is this subtransaction's raise, its foreign keys checked */
} RunState;

/* Locks a run row for a span (raises if it does not exist) and reads its state. */
extern void prefactor_lock_run(const Pfid *account, const Pfid *instance, RunState *run);

/*
 * A run row locked by prefactor_lock_run was updated in this subtransaction:
 * its new place, and whether that version's foreign keys have been checked.
 */
extern void prefactor_run_row_moved(Relation instances, const Pfid *account, const Pfid *instance,
									ItemPointer tid, bool keys_checked);

/* How long before its run a span may start (ms): clock skew between hosts. */
extern int	prefactor_span_clock_skew;
/*
 * The statuses of runs and spans (statuses.c): pending and active are open,
 * complete, failed and cancelled (and, for runs, terminated) are finished.
 */
extern bool prefactor_status_open(const char *status);
extern bool prefactor_run_status(const char *status, bool *open);
extern bool prefactor_span_status(const char *status, bool *open);
/* The open statuses as a SQL text[] literal, for the SQL the C code runs. */
#define PREFACTOR_OPEN_STATUSES "'{pending,active}'::pg_catalog.text[]"

/* Shared by the guard triggers of spans and instances (src/guard/span_guard.c). */
extern struct TriggerData *prefactor_check_trigger_call(FunctionCallInfo fcinfo, const char *name, bool insert);
extern void prefactor_rule_violated(Relation rel, const char *rule, const char *detail) pg_attribute_noreturn();
extern bool prefactor_column_unchanged(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, int attnum);
extern void prefactor_check_times(Relation rel, const char *finite_rule, const char *ordered_rule,
								  HeapTuple tuple, int started_att, int finished_att);
extern void prefactor_check_id_partition(Relation rel, const char *rule, HeapTuple tuple,
										 int id_att, int account_att);

/*
 * The latest start among a run's open spans, false when it has none: a run
 * that ends (finished or terminated) ends no earlier (run_guard.c; call
 * within SPI).
 */
extern bool prefactor_open_spans_latest_start(const Pfid *account, const Pfid *instance, TimestampTz *latest);

/* Moves an active run's start back to a span that starts before it (run_guard.c). */
extern void prefactor_move_run_start(const Pfid *account, const Pfid *instance, TimestampTz started);

/* Raises unless a run with this status takes new spans. */
extern void prefactor_require_active(const Pfid *instance, const char *status);

#endif
