/*
 * risk.h
 *	  Risk scoring: per-backend caches of span type points and profile
 *	  revision thresholds (risk_cache.c), shared by live scoring
 *	  (risk_live.c) and the aggregates (risk_agg.c).
 */
#ifndef PREFACTOR_RISK_H
#define PREFACTOR_RISK_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/numeric.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

#include "core/pfid.h"

/* Risk levels in the order of the prefactor.risk_level enum. */
#define RISK_LEVEL_NONE		(-1)
#define RISK_LEVEL_LOW		0
#define RISK_LEVEL_MEDIUM	1
#define RISK_LEVEL_HIGH		2
#define RISK_LEVEL_CRITICAL	3

/* Points and classification of one span type under one profile revision. */
typedef struct RiskTypeKey
{
	Pfid		span_type_id;
	Pfid		revision_id;
} RiskTypeKey;

typedef struct RiskTypeInfo
{
	RiskTypeKey key;
	Numeric		points;			/* in the cache context */
	bool		scores;			/* points > 0 */
	bool		integral;		/* points is a whole number: ipoints */
	int64		ipoints;
	int			classification; /* 0 = none, 1 = public .. 5 = secret */
	const char *classification_name;
} RiskTypeInfo;

/* Thresholds and termination level of one profile revision. */
typedef struct RiskRevisionInfo
{
	Pfid		revision_id;
	Numeric		thresholds[3];	/* medium, high, critical */
	int			terminate_at;	/* RISK_LEVEL_NONE or a level */
	int			revision;
	char	   *profile_name;
} RiskRevisionInfo;

/*
 * Live scoring of a new span (computed by the span guard under the run's
 * lock): the run's total after the span, and whether the span raises the
 * run's level or data classification, so that the run row must be updated.
 */
typedef struct RiskSpanScore
{
	bool		scored;			/* the span's type scores or classifies */
	Numeric		total;			/* the run's score after this span */
	bool		raises;			/* it raised the run's level or classification */
	bool		terminated;		/* ... up to the profile's terminate_at_level */
	TimestampTz finished_at;	/* the run's finish when terminated */
} RiskSpanScore;

struct RunState;
/* The running totals this subtransaction stored, per run (risk_totals.c). */
extern void risk_totals_span_arrives(Relation spans);
extern Numeric risk_totals_known(Relation spans, const Pfid *account, const Pfid *instance);
extern void risk_totals_judged(Relation spans, const Pfid *account, const Pfid *instance, const Pfid *span_id,
							   Numeric total);
extern RiskSpanScore risk_score_span(Relation spans, const Pfid *account, const Pfid *instance,
									 const Pfid *span_id, const Pfid *span_type_id,
									 const struct RunState *run, TimestampTz started_at);
extern int	risk_classification_rank(const char *name);
extern void risk_notify_level_rise(const char *account_name, const char *agent_name, const Pfid *instance,
								   const char *score_text, const char *level_name, bool terminated);
extern void risk_alert_after_span(const Pfid *account, const Pfid *span, bool terminated);
extern void risk_alert_send(const char *channel, const char *payload);

extern const char *const risk_level_names[];
extern uint64 risk_cache_generation;

extern const RiskTypeInfo *risk_type_lookup(const Pfid *span_type_id,
											const Pfid *revision_id);
extern const RiskRevisionInfo *risk_revision_lookup(const Pfid *revision_id);
extern bool risk_type_visible(const Pfid *span_type_id);
extern const char *risk_type_name(const Pfid *span_type_id, bool *cached);
extern int	risk_level_of(const RiskRevisionInfo *rev, Numeric score);
extern int	risk_level_from_name(const char *name);
extern void risk_cache_reset(void);

extern Datum pfid_out(PG_FUNCTION_ARGS);

#endif
