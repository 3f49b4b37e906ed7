/*
 * prefactor.h
 *	  Shared state of the extension's C code: the pfid type's current OID,
 *	  backend caches of immutable rows, and the hand-off between the span
 *	  API functions and the span trigger.
 */
#ifndef PREFACTOR_H
#define PREFACTOR_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/numeric.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "pfid.h"

/*
 * Backend caches are tied to one installation of the extension, identified by
 * the OID of its pfid type; DROP/CREATE EXTENSION in a session starts afresh.
 */
extern void prefactor_caches_check(Oid pfid_type);
extern Oid	prefactor_pfid_type(void);
extern Oid	prefactor_pfid_oid(void);	/* current; makes the caches ready */
extern bool prefactor_pfid_changed(Oid *built_for);

/* The account owning a partition (accounts never change partition); NULL if none. */
extern Pfid *prefactor_account_for_partition(int32 partition);

/* The span type a schema version declares under a name; false if undeclared. */
extern bool prefactor_lookup_span_type(const Pfid *account, const Pfid *schema_version,
									   const char *name, Pfid *span_type);

/* Runs a saved plan made from sql with the given argument types (prepared once). */
extern int	prefactor_spi_execute(SPIPlanPtr *plan, const char *sql, int nargs,
								  Oid *argtypes, Datum *values, const char *nulls,
								  bool read_only, long count);


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
} RunState;

/* Locks a run row for a span (raises if it does not exist) and reads its state. */
extern void prefactor_lock_run(const Pfid *account, const Pfid *instance, RunState *run);

/* How long before its run a span may start (ms): clock skew between hosts. */
extern int	prefactor_span_clock_skew;
/* Whether a span status is known and, if so, whether it is open (pending, active). */
extern bool prefactor_span_status(const char *status, bool *open);

/* Shared by the guard triggers of spans and instances (src/span_trigger.c). */
extern struct TriggerData *prefactor_check_trigger_call(FunctionCallInfo fcinfo, const char *name, bool insert);
extern void prefactor_rule_violated(Relation rel, const char *rule, const char *detail) pg_attribute_noreturn();
extern bool prefactor_column_unchanged(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, int attnum);
extern void prefactor_check_times(Relation rel, const char *finite_rule, const char *ordered_rule,
								  HeapTuple tuple, int started_att, int finished_att);
extern void prefactor_check_id_partition(Relation rel, const char *rule, HeapTuple tuple,
										 int id_att, int account_att);

/* Raises unless a run with this status takes new spans. */
extern void prefactor_require_active(const Pfid *instance, const char *status);

/*
 * The account boundary (doc/security.md): whether the calling role (outside
 * SECURITY DEFINER: session user or SET ROLE) is a superuser or has the access
 * level in the account, and the check that raises insufficient_privilege.
 */
extern bool prefactor_has_access(const Pfid *account, const char *level);
extern void prefactor_require_access(const Pfid *account, const char *level, const char *subject);
extern void prefactor_access_denied(const char *level, const char *subject) pg_attribute_noreturn();

/* What a message may quote of a client's value: the value if short, else its start (excerpt.c). */
extern char *prefactor_excerpt(const char *value);
extern char *prefactor_excerpt_len(const char *value, int len);

#endif
