/*
 * id_assign.c
 *	  BEFORE INSERT trigger that gives a row without an id a fresh pfid in
 *	  the partition of its account, so ids from functions, INSERT and COPY
 *	  all carry the account's partition. On a Citus shard the id also
 *	  hashes into the shard's range, its account's (prefactor_new_row_id).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/rel.h"

#include "core/citus_compat.h"
#include "core/pfid.h"

PG_FUNCTION_INFO_V1(prefactor_assign_id);
Datum
prefactor_assign_id(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	tuple;
	int			id_attnum;
	int			account_attnum;
	bool		isnull;
	Datum		account;
	Datum		newid;
	bool		newnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("prefactor_assign_id must be a BEFORE INSERT FOR EACH ROW trigger")));

	tupdesc = trigdata->tg_relation->rd_att;
	tuple = trigdata->tg_trigtuple;
	id_attnum = SPI_fnumber(tupdesc, "id");
	account_attnum = SPI_fnumber(tupdesc, "account_id");
	if (id_attnum <= 0 || account_attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("table \"%s\" has no \"id\" or \"account_id\" column",
						RelationGetRelationName(trigdata->tg_relation))));

	(void) heap_getattr(tuple, id_attnum, tupdesc, &isnull);
	if (!isnull)
		return PointerGetDatum(tuple);

	account = heap_getattr(tuple, account_attnum, tupdesc, &isnull);
	if (isnull)
		return PointerGetDatum(tuple);	/* the NOT NULL constraint reports it */

	newid = PointerGetDatum(prefactor_new_row_id(trigdata->tg_relation,
												 pfid_get_partition(DatumGetPfidP(account))));
	return PointerGetDatum(heap_modify_tuple_by_cols(tuple, tupdesc, 1, &id_attnum,
													 &newid, &newnull));
}
