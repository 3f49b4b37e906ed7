/*
 * risk_totals.c
 *	  The running totals this subtransaction stored, per run, so that live
 *	  scoring (risk_live.c) need not read a run's previous total from the
 *	  index for every span of a bulk INSERT or COPY, which brings many spans
 *	  of each run in one statement.
 *
 *	  A total is remembered only once its span is seen stored, and only as
 *	  long as every span stored since went through the span guard:
 *	  - The guard calls risk_totals_span_arrives for every span it judges.
 *	    The span judged before must have been inserted by then (or skipped),
 *	    and nothing else: the table's insert count of this subtransaction
 *	    (pgstat's, the one heap_insert keeps) tells how many rows went in
 *	    since. More than one means a row came without the guard
 *	    (session_replication_role = replica): every total is forgotten.
 *	  - The span judged before is seen stored when the page of the table's
 *	    last insert (its target block) holds a row with its id and run,
 *	    inserted (not updated) by this subtransaction, not deleted since,
 *	    with the total it was given. A span skipped by ON CONFLICT DO NOTHING
 *	    or by a later BEFORE trigger, or given another total by one, is not:
 *	    its run's total is forgotten, and the next span reads the index.
 *	  - Other transactions cannot add spans to the run meanwhile: each span
 *	    takes the run's row lock, which this subtransaction holds until it
 *	    ends. Totals are trusted only under the same local transaction and
 *	    subtransaction ids, in the same storage of the table.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "parser/parse_relation.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"

#include "core/caches.h"
#include "risk/risk.h"

/* more runs than a bulk load scores at once; beyond it the table starts over */
#define RUN_TOTALS_MAX 16384

/* how many rows below the top of the target page are searched for the span */
#define STORED_SEARCH_DEPTH 16

/* a total is kept in place when its numeric fits (a score's always does) */
#define TOTAL_BYTES 40

typedef struct RunTotalKey
{
	Pfid		account;
	Pfid		instance;
} RunTotalKey;

/* The subtransaction and table the totals belong to, and their generation. */
typedef struct TotalsScope
{
	LocalTransactionId lxid;
	SubTransactionId subxid;
	Oid			relid;
	Oid			relfilenode;
	uint64		generation;		/* bumped to forget every total */
} TotalsScope;

typedef union TotalBytes
{
	char		bytes[TOTAL_BYTES];
	double		align;
} TotalBytes;

typedef struct RunTotal
{
	RunTotalKey key;
	TotalsScope scope;
	TotalBytes	total;
} RunTotal;

static HTAB *run_totals = NULL;

/* The scope of the last span the guard judged, and the insert count before it (-1: not kept). */
static TotalsScope seen_scope;
static uint64 generation = 0;
static int64 inserts_seen = -1;

/* The last scored span: its total is remembered once it is seen stored. */
static struct
{
	bool		valid;
	RunTotalKey key;
	Pfid		id;
	TotalBytes	total;
	int64		inserts_before; /* the insert count when it was judged */
}			pending;

static void
current_scope(Relation spans, TotalsScope *scope)
{
	memset(scope, 0, sizeof(*scope));
	scope->lxid = MyProc->lxid;
	scope->subxid = GetCurrentSubTransactionId();
	scope->relid = RelationGetRelid(spans);
	scope->relfilenode = spans->rd_node.relNode;
	scope->generation = generation;
}

/*
 * Rows inserted into the table by this subtransaction so far (pgstat's
 * count, kept by heap_insert), or -1 when the count is not kept
 * (track_counts off): then nothing is remembered.
 */
static int64
inserts_so_far(Relation spans)
{
	PgStat_TableStatus *status = spans->pgstat_info;

	if (!spans->pgstat_enabled || status == NULL)
		return -1;
	if (status->trans == NULL || status->trans->nest_level != GetCurrentTransactionNestLevel())
		return 0;
	return status->trans->tuples_inserted;
}

/* The columns a stored span is recognised by, found once per table. */
static Oid	columns_of = InvalidOid;
static AttrNumber att_id;
static AttrNumber att_instance;
static AttrNumber att_total;

static void
find_columns(Relation spans)
{
	if (columns_of == RelationGetRelid(spans))
		return;
	att_id = attnameAttNum(spans, "id", false);
	att_instance = attnameAttNum(spans, "instance_id", false);
	att_total = attnameAttNum(spans, "risk_total", false);
	columns_of = RelationGetRelid(spans);
}

static RunTotalKey
key_of(const Pfid *account, const Pfid *instance)
{
	RunTotalKey key;

	memset(&key, 0, sizeof(key));
	key.account = *account;
	key.instance = *instance;
	return key;
}

/*
 * Whether the pending span is stored: a row on the table's target page with
 * its id and run, inserted by this subtransaction (not as an update's new
 * version), not deleted or updated since, whose risk_total equals the one
 * it was given.
 */
static bool
pending_stored(Relation spans)
{
	BlockNumber block = RelationGetTargetBlock(spans);
	TransactionId xid = GetCurrentTransactionIdIfAny();
	TupleDesc	desc = RelationGetDescr(spans);
	Buffer		buf;
	Page		page;
	bool		stored = false;
	int			searched = 0;

	if (block == InvalidBlockNumber || !TransactionIdIsValid(xid))
		return false;
	find_columns(spans);
	buf = ReadBuffer(spans, block);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	for (OffsetNumber off = PageGetMaxOffsetNumber(page);
		 off >= FirstOffsetNumber && searched < STORED_SEARCH_DEPTH; off--, searched++)
	{
		ItemId		lp = PageGetItemId(page, off);
		HeapTupleData tuple;
		bool		isnull;
		Datum		d;

		if (!ItemIdIsNormal(lp))
			continue;
		tuple.t_data = (HeapTupleHeader) PageGetItem(page, lp);
		tuple.t_len = ItemIdGetLength(lp);
		tuple.t_tableOid = RelationGetRelid(spans);
		ItemPointerSet(&tuple.t_self, block, off);
		if (HeapTupleHeaderGetRawXmin(tuple.t_data) != xid ||
			(tuple.t_data->t_infomask & HEAP_UPDATED))
			continue;
		d = heap_getattr(&tuple, att_id, desc, &isnull);
		if (isnull || memcmp(DatumGetPointer(d), &pending.id, sizeof(Pfid)) != 0)
			continue;
		/* the span's row: it counts if it is still there, in its run, with its total */
		d = heap_getattr(&tuple, att_instance, desc, &isnull);
		stored = !isnull && memcmp(DatumGetPointer(d), &pending.key.instance, sizeof(Pfid)) == 0 &&
			((tuple.t_data->t_infomask & HEAP_XMAX_INVALID) ||
			 HEAP_XMAX_IS_LOCKED_ONLY(tuple.t_data->t_infomask));
		if (stored)
		{
			d = heap_getattr(&tuple, att_total, desc, &isnull);
			stored = !isnull && DatumGetBool(DirectFunctionCall2(numeric_eq, d,
																 PointerGetDatum(pending.total.bytes)));
		}
		break;
	}
	UnlockReleaseBuffer(buf);
	return stored;
}

/*
 * The guard judges a span (every span, scored or not): settles the span
 * judged before it (see the file's header).
 */
void
risk_totals_span_arrives(Relation spans)
{
	TotalsScope scope;
	int64		inserts = inserts_so_far(spans);

	current_scope(spans, &scope);
	if (inserts < 0 || memcmp(&scope, &seen_scope, sizeof(scope)) != 0)
	{
		/* another subtransaction or table: the totals of before are stale by their scope */
		pending.valid = false;
		seen_scope = scope;
		inserts_seen = inserts;
		return;
	}
	if (pending.valid)
	{
		if (inserts == pending.inserts_before + 1 && pending_stored(spans))
		{
			RunTotal   *entry = hash_search(run_totals, &pending.key, HASH_ENTER, NULL);

			entry->scope = scope;
			entry->total = pending.total;
		}
		else
			hash_search(run_totals, &pending.key, HASH_REMOVE, NULL);
		pending.valid = false;
	}
	if (inserts > inserts_seen + 1)
	{
		/* a row went in without the guard: no total is known any more */
		generation++;
		current_scope(spans, &seen_scope);
	}
	inserts_seen = inserts;
}

/*
 * The run's running total as this subtransaction stored it (a copy in the
 * current memory context), or NULL when not known: then the index answers.
 */
Numeric
risk_totals_known(Relation spans, const Pfid *account, const Pfid *instance)
{
	RunTotalKey key;
	RunTotal   *entry;
	TotalsScope scope;

	if (run_totals == NULL)
		return NULL;
	key = key_of(account, instance);
	entry = hash_search(run_totals, &key, HASH_FIND, NULL);
	if (entry == NULL)
		return NULL;
	current_scope(spans, &scope);
	if (memcmp(&scope, &entry->scope, sizeof(scope)) != 0)
		return NULL;
	return DatumGetNumericCopy(PointerGetDatum(entry->total.bytes));
}

/*
 * A scored span was given its total (and is about to be stored): its total
 * is remembered for its run once the next span finds it stored.
 */
void
risk_totals_judged(Relation spans, const Pfid *account, const Pfid *instance, const Pfid *span_id,
				   Numeric total)
{
	TotalsScope scope;

	pending.valid = false;
	current_scope(spans, &scope);
	if (span_id == NULL || inserts_seen < 0 || memcmp(&scope, &seen_scope, sizeof(scope)) != 0 ||
		VARSIZE_ANY(total) > TOTAL_BYTES)
		return;
	prefactor_bounded_hash(&run_totals, "prefactor run totals", sizeof(RunTotalKey), sizeof(RunTotal),
						   RUN_TOTALS_MAX);
	pending.key = key_of(account, instance);
	pending.id = *span_id;
	memcpy(pending.total.bytes, total, VARSIZE_ANY(total));
	pending.inserts_before = inserts_seen;
	pending.valid = true;
}
