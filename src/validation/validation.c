/*
 * validation.c
 *	  Glue between PostgreSQL and the JSON Schema engine: compiled span-type
 *	  schemas cached per backend (they never change), span validation for the
 *	  span trigger, and the SQL functions jsonschema_is_valid, jsonschema_errors,
 *	  jsonschema_check and activity_schema_problems (also with a map of shared
 *	  documents, and the account's registered documents for span types).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "validation/jsonb_accessor.h"
#include "core/caches.h"
#include "core/excerpt.h"
#include "validation/validation.h"

bool		prefactor_validate_spans = true;
bool		prefactor_format_assertion = false;
int			prefactor_max_validation_errors = 20;

const char *const span_validation_names[] = {"validated", "undeclared", "schema_invalid", "limit_exceeded"};

/* Registry URIs under which a schema version's documents can be $ref'd. */
#define SCHEMA_DOC_URI	"urn:prefactor:schema"
#define SPAN_TYPE_URI	"urn:prefactor:span-type:%s:%s"

typedef struct CompiledKey
{
	Pfid		span_type;
	bool		format_assertion;
} CompiledKey;

typedef struct CompiledSpanType
{
	CompiledKey key;
	bool		schema_invalid;
	js_compiled *params;		/* NULL: no params schema, every payload conforms */
	js_compiled *result;		/* NULL: no result schema */
} CompiledSpanType;

static HTAB *compiled_cache = NULL;
static MemoryContext compiled_cxt = NULL;	/* compiled span-type schemas */
static MemoryContext scratch_cxt = NULL;	/* one validation at a time */

/* Engine allocations in a memory context (errors on OOM abort the call). */
static void *
mcxt_malloc(void *ctx, size_t size)
{
	return MemoryContextAllocHuge((MemoryContext) ctx, size);
}

static void *
mcxt_realloc(void *ctx, void *ptr, size_t size)
{
	return ptr ? repalloc_huge(ptr, size) : MemoryContextAllocHuge((MemoryContext) ctx, size);
}

static void
mcxt_free(void *ctx, void *ptr)
{
	if (ptr)
		pfree(ptr);
}

/*
 * The engine asks this at every level of its recursion: PostgreSQL's own
 * rule (max_stack_depth) decides how deep a document can be validated,
 * without the engine ever longjmp'ing out through check_stack_depth().
 */
static int
engine_stack_too_deep(void *ctx)
{
	return stack_is_too_deep() ? 1 : 0;
}

/* Engine options for allocations in cxt. */
static void
engine_options(js_options *opt, js_allocator *alloc, MemoryContext cxt, const js_registry *reg)
{
	alloc->malloc_fn = mcxt_malloc;
	alloc->realloc_fn = mcxt_realloc;
	alloc->free_fn = mcxt_free;
	alloc->ctx = cxt;
	js_options_init(opt);
	opt->format_assertion = prefactor_format_assertion;
	opt->max_errors = prefactor_max_validation_errors;
	opt->registry = reg;
	opt->allocator = alloc;
	/* depth is bounded by the stack, not by a count */
	opt->max_stack_bytes = (size_t) max_stack_depth * 1024;
	opt->stack_too_deep = engine_stack_too_deep;
	opt->stack_ctx = NULL;
}

/* At most 'max' bytes of a client-derived string, for a message. */
static char *
excerpt(const char *s, size_t max)
{
	size_t		len = strlen(s);

	if (len <= max)
		return pstrdup(s);
	len = pg_mbcliplen(s, len, max);
	return psprintf("%.*s...", (int) len, s);
}

/*
 * Raises the error of a validation that a limit stopped: there is no
 * verdict to return.  r is the collecting run, whose last error says where.
 */
static void
raise_limit(const js_result *r)
{
	const js_error *e = r->error_count > 0 ? &r->errors[r->error_count - 1] : NULL;
	const char *hint;
	int			code = ERRCODE_STATEMENT_TOO_COMPLEX;

	switch (r->limit)
	{
		case JS_LIMIT_LOOP:
			hint = "A $ref cycle in the schema re-enters itself without consuming any of the instance; break the cycle.";
			break;
		case JS_LIMIT_REGEX:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			hint = "A \"pattern\" needs too much backtracking on this string; simplify the pattern.";
			break;
		case JS_LIMIT_NUMBER:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			hint = "A \"multipleOf\" with a very long divisor needs too much exact arithmetic; use a shorter divisor.";
			break;
		default:
			hint = "The document is nested too deeply for the validator's stack; flatten it, or raise max_stack_depth.";
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("JSON Schema validation stopped at a limit before reaching a verdict"),
			 e ? errdetail("%s at instance location \"%s\" (keyword location \"%s\").",
						   e->message, excerpt(e->instance_location, 60),
						   excerpt(e->keyword_location, 60)) : 0,
			 errhint("%s", hint)));
}

/* A fresh scratch context for one validation or check. */
static MemoryContext
scratch(void)
{
	if (scratch_cxt == NULL)
		scratch_cxt = AllocSetContextCreate(TopMemoryContext, "prefactor validation",
											ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(scratch_cxt);
	return scratch_cxt;
}

/* The installation the compiled schemas belong to. */
static InstallationWatch compiled_watch = INSTALLATION_WATCH_INIT;

/* Forgets every compiled schema (the extension was re-created). */
static void
prefactor_validation_reset(void)
{
	HASHCTL		ctl;

	if (compiled_cxt)
		MemoryContextDelete(compiled_cxt);
	compiled_cxt = AllocSetContextCreate(CacheMemoryContext, "prefactor compiled schemas",
										 ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(CompiledKey);
	ctl.entrysize = sizeof(CompiledSpanType);
	ctl.hcxt = compiled_cxt;
	compiled_cache = hash_create("prefactor compiled span types", 256, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Adds a document to a registry unless the name cannot form a URI. */
static void
register_doc(js_registry *reg, const char *uri, Jsonb *doc)
{
	if (doc == NULL || strpbrk(uri, "# \t\n") != NULL)
		return;
	js_registry_add(reg, uri, jsonb_accessor(), jsonb_root_node(doc));
}

static void register_schema_documents(js_registry *reg, const Pfid *account,
									  const Pfid *span_type);

/* Compiles one schema into cxt; NULL schema compiles to NULL (no constraint). */
static bool
compile_into(Jsonb *schema, MemoryContext cxt, const js_registry *reg, js_compiled **out)
{
	js_options	opt;
	js_allocator alloc;

	*out = NULL;
	if (schema == NULL)
		return true;
	engine_options(&opt, &alloc, cxt, reg);
	return js_compile(jsonb_accessor(), jsonb_root_node(schema), &opt, out, NULL) == JS_OK;
}

/*
 * Compiles every span type of the schema version that declares span_type,
 * with the other span types' schemas and the whole schema document in the
 * registry, and caches them all.
 */
static void
load_schema_version(const Pfid *account, const Pfid *span_type)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};
	Datum		values[2] = {PfidPGetDatum(account), PfidPGetDatum(span_type)};
	MemoryContext work = scratch();
	MemoryContext oldcxt;
	js_allocator alloc;
	js_options	opt;
	js_registry *reg;
	uint64		n;

	SPI_connect();
	prefactor_spi_execute(&plan,
						  "SELECT t.id, t.name, t.params_schema, t.result_schema, v.content"
						  " FROM prefactor.span_types t JOIN prefactor.activity_schema_versions v"
						  " ON v.account_id OPERATOR(prefactor.=) t.account_id"
						  " AND v.id OPERATOR(prefactor.=) t.schema_version_id"
						  " WHERE t.account_id OPERATOR(prefactor.=) $1 AND t.schema_version_id OPERATOR(prefactor.=)"
						  " (SELECT s.schema_version_id FROM prefactor.span_types s"
						  "  WHERE s.account_id OPERATOR(prefactor.=) $1 AND s.id OPERATOR(prefactor.=) $2)",
						  2, argtypes, values, NULL, true, 0);
	n = SPI_processed;

	oldcxt = MemoryContextSwitchTo(work);
	engine_options(&opt, &alloc, work, NULL);
	reg = js_registry_new(&alloc);
	register_schema_documents(reg, account, span_type);
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *name = SPI_getvalue(tup, desc, 2);
		Datum		d;

		if (i == 0)
		{
			d = SPI_getbinval(tup, desc, 5, &isnull);
			register_doc(reg, SCHEMA_DOC_URI, isnull ? NULL : DatumGetJsonbP(d));
		}
		d = SPI_getbinval(tup, desc, 3, &isnull);
		register_doc(reg, psprintf(SPAN_TYPE_URI, name, "params"), isnull ? NULL : DatumGetJsonbP(d));
		d = SPI_getbinval(tup, desc, 4, &isnull);
		register_doc(reg, psprintf(SPAN_TYPE_URI, name, "result"), isnull ? NULL : DatumGetJsonbP(d));
	}

	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		CompiledKey key;
		CompiledSpanType *entry;
		bool		found;
		Datum		d;
		Jsonb	   *params;
		Jsonb	   *result;

		memset(&key, 0, sizeof(key));
		memcpy(&key.span_type, DatumGetPfidP(SPI_getbinval(tup, desc, 1, &isnull)), sizeof(Pfid));
		key.format_assertion = prefactor_format_assertion;
		d = SPI_getbinval(tup, desc, 3, &isnull);
		params = isnull ? NULL : DatumGetJsonbP(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		result = isnull ? NULL : DatumGetJsonbP(d);

		entry = hash_search(compiled_cache, &key, HASH_ENTER, &found);
		if (found)
			continue;
		entry->params = NULL;
		entry->result = NULL;
		entry->schema_invalid = !compile_into(params, compiled_cxt, reg, &entry->params) ||
			!compile_into(result, compiled_cxt, reg, &entry->result);
	}
	MemoryContextSwitchTo(oldcxt);
	SPI_finish();
}

/* The cached compiled schemas of a span type, compiling its schema version on a miss. */
static CompiledSpanType *
compiled_span_type(const Pfid *account, const Pfid *span_type)
{
	CompiledKey key;
	CompiledSpanType *entry;

	if (prefactor_installation_changed(&compiled_watch) && compiled_cache != NULL)
		prefactor_validation_reset();
	if (compiled_cache == NULL)
		prefactor_validation_reset();
	memset(&key, 0, sizeof(key));
	memcpy(&key.span_type, span_type, sizeof(Pfid));
	key.format_assertion = prefactor_format_assertion;
	entry = hash_search(compiled_cache, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		load_schema_version(account, span_type);
		entry = hash_search(compiled_cache, &key, HASH_FIND, NULL);
		if (entry == NULL)
			elog(ERROR, "span type %s has no schema version", pfid_text(span_type));
	}
	return entry;
}

/* How a span of this type is validated. */
SpanValidation
prefactor_span_validation(const Pfid *account, const Pfid *span_type)
{
	if (span_type == NULL)
		return SPAN_UNDECLARED;
	return compiled_span_type(account, span_type)->schema_invalid ? SPAN_SCHEMA_INVALID : SPAN_VALIDATED;
}

/* Adds a string member to an object being built. */
static void
push_string_member(JsonbParseState **state, const char *key, const char *value)
{
	JsonbValue	k;
	JsonbValue	v;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(state, WJB_KEY, &k);
	pushJsonbValue(state, WJB_VALUE, &v);
}

/* A jsonb array of {instance_location, keyword_location, message} objects. */
static Datum
errors_to_jsonb(const js_result *r)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (size_t i = 0; i < r->error_count; i++)
	{
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(&state, "instance_location", r->errors[i].instance_location);
		push_string_member(&state, "keyword_location", r->errors[i].keyword_location);
		push_string_member(&state, "message", r->errors[i].message);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	if (r->truncated)
	{
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		push_string_member(&state, "instance_location", "");
		push_string_member(&state, "keyword_location", "");
		push_string_member(&state, "message",
						   psprintf("more errors not shown (prefactor.max_validation_errors = %d)",
									prefactor_max_validation_errors));
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/*
 * Validates doc against cs. Valid documents cost one fast pass; the others
 * get a second pass that collects the errors. Returns the outcome; for
 * JS_LIMIT_REACHED *errors holds the limit error and *result (when not NULL)
 * the collecting run's result, which lives until the scratch context is
 * reset.
 */
static js_outcome
validate_doc(const js_compiled *cs, Jsonb *doc, bool *conforms, Datum *errors, bool *errors_null,
			 js_result **result)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work = scratch();
	js_result  *r = NULL;
	int			rc;
	js_outcome	outcome = JS_VALID;

	*errors_null = true;
	*errors = (Datum) 0;
	*conforms = true;
	if (result)
		*result = NULL;
	if (cs == NULL)
		return JS_VALID;
	check_stack_depth();

	MemoryContextSwitchTo(work);
	rc = js_is_valid(cs, jsonb_accessor(), jsonb_root_node(doc));
	if (rc != JS_VALID && rc >= 0)
		rc = js_validate(cs, jsonb_accessor(), jsonb_root_node(doc), JS_MODE_COLLECT, &r);
	MemoryContextSwitchTo(caller);
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("JSON Schema validation failed with engine code %d", rc),
				 errdetail("The validator could not allocate its working memory."),
				 errhint("Retry; if it persists, report it with the schema.")));
	if (r != NULL && r->outcome != JS_VALID)
	{
		outcome = r->outcome;
		/* a limit is no mismatch: the caller records "not validated" */
		*conforms = false;
		*errors = errors_to_jsonb(r);
		*errors_null = false;
	}
	if (result)
		*result = r;
	else
		MemoryContextReset(work);
	return outcome;
}

/* Validates a span's payload or result against its declared type. */
SpanValidation
prefactor_validate_span_part(const Pfid *account, const Pfid *span_type, bool is_result,
							 Jsonb *doc, bool *conforms, Datum *errors, bool *errors_null)
{
	CompiledSpanType *entry = compiled_span_type(account, span_type);

	if (validate_doc(is_result ? entry->result : entry->params, doc, conforms, errors,
					 errors_null, NULL) == JS_LIMIT_REACHED)
		return SPAN_LIMIT_EXCEEDED;
	return SPAN_VALIDATED;
}

/*
 * Ad-hoc schemas of the SQL functions: a few recently compiled ones are kept,
 * keyed by the schema argument exactly as it arrives, so that a query over
 * many rows compiles once and finds its schema again at the cost of one
 * comparison, without detoasting: a schema read from a row is often
 * compressed in line (the key is then its compressed bytes, which decompress
 * to one content only) or stored out of line (the key is then the toast
 * pointer).  A toast pointer names an immutable value in one toast table;
 * its value id could only name another value after that one was deleted,
 * vacuumed away and the OID counter went round, so within one transaction
 * the pointer is trusted, and in a later one the content is detoasted once
 * and compared with the content compiled.
 */
#define ADHOC_SLOTS 8
typedef struct AdhocSchema
{
	Size		keylen;
	char	   *key;			/* the argument's bytes: varlena or toast pointer */
	bool		external;		/* key is an on-disk toast pointer */
	LocalTransactionId lxid;	/* external: the transaction that last checked it */
	Size		len;			/* external: the detoasted schema */
	char	   *bytes;
	bool		format_assertion;
	uint64		gen;			/* changes whenever the slot is refilled */
	MemoryContext cxt;
	js_compiled *cs;
} AdhocSchema;

/*
 * A call site whose schema argument is a constant of the plan (a literal,
 * or a parameter the planner folded) remembers its slot in fn_extra: the
 * constant cannot change while the expression lives, so later rows skip
 * even the comparison.
 */
typedef struct AdhocCallSite
{
	Pointer		arg;
	int			slot;
	uint64		gen;
} AdhocCallSite;

static uint64 adhoc_gen = 0;

static AdhocSchema adhoc[ADHOC_SLOTS];
static int	adhoc_next = 0;

/* A jsonb array of {keyword_location, message} for schema problems. */
static Datum
problems_to_jsonb(const js_problems *p, const char *span_type, const char *part)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (size_t i = 0; p && i < p->count; i++)
	{
		pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
		if (span_type)
		{
			push_string_member(&state, "span_type", span_type);
			push_string_member(&state, "schema", part);
		}
		push_string_member(&state, "keyword_location", p->items[i].keyword_location);
		push_string_member(&state, "message", p->items[i].message);
		pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	}
	res = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(res));
}

/* Does slot hold the schema whose argument bytes are key? */
static bool
adhoc_matches(AdhocSchema *slot, const char *key, Size keylen, bool external)
{
	Jsonb	   *plain;

	if (slot->cs == NULL || slot->keylen != keylen || slot->external != external ||
		slot->format_assertion != prefactor_format_assertion ||
		memcmp(slot->key, key, keylen) != 0)
		return false;
	if (!external || slot->lxid == MyProc->lxid)
		return true;
	/* a toast pointer seen in an earlier transaction: compare the content once */
	plain = DatumGetJsonbP(PointerGetDatum(key));
	if (VARSIZE(plain) != slot->len || memcmp(plain, slot->bytes, slot->len) != 0)
		return false;
	slot->lxid = MyProc->lxid;
	return true;
}

/* Is the schema argument (the first) a constant of the plan? */
static bool
schema_arg_is_const(FmgrInfo *flinfo)
{
	Node	   *expr = flinfo->fn_expr;
	List	   *args;

	if (expr == NULL)
		return false;
	if (IsA(expr, FuncExpr))
		args = ((FuncExpr *) expr)->args;
	else
		return false;
	return list_length(args) >= 1 && IsA(linitial(args), Const);
}

static const js_compiled *adhoc_lookup(Datum arg, int *slotno);

/* The compiled form of the schema argument of fcinfo; raises if malformed. */
static const js_compiled *
adhoc_compiled(FunctionCallInfo fcinfo)
{
	Datum		arg = PG_GETARG_DATUM(0);
	AdhocCallSite *site = fcinfo->flinfo ? fcinfo->flinfo->fn_extra : NULL;
	const js_compiled *cs;
	int			slotno;

	if (site && site->arg == DatumGetPointer(arg) && adhoc[site->slot].gen == site->gen &&
		adhoc[site->slot].format_assertion == prefactor_format_assertion)
		return adhoc[site->slot].cs;
	cs = adhoc_lookup(arg, &slotno);
	if (fcinfo->flinfo && schema_arg_is_const(fcinfo->flinfo))
	{
		if (site == NULL)
			site = fcinfo->flinfo->fn_extra =
				MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(AdhocCallSite));
		site->arg = DatumGetPointer(arg);
		site->slot = slotno;
		site->gen = adhoc[slotno].gen;
	}
	return cs;
}

/* The compiled form of an ad-hoc schema and its slot; raises with its problems if malformed. */
static const js_compiled *
adhoc_lookup(Datum arg, int *slotno)
{
	static int	last = 0;
	struct varlena *raw = (struct varlena *) DatumGetPointer(arg);
	bool		external = VARATT_IS_EXTERNAL_ONDISK(raw);
	Size		keylen;
	Jsonb	   *schema;
	AdhocSchema *slot;
	js_options	opt;
	js_allocator alloc;
	js_problems *problems = NULL;
	js_compiled *cs = NULL;
	MemoryContext cxt;

	/* indirect and expanded values have no stable bytes: key on their content */
	if (VARATT_IS_EXTERNAL(raw) && !external)
		raw = (struct varlena *) DatumGetJsonbP(arg);
	keylen = external ? VARSIZE_EXTERNAL(raw) : VARSIZE_ANY(raw);

	/* the schema of the previous call first: a query passes the same one each row */
	if (adhoc_matches(&adhoc[last], (const char *) raw, keylen, external))
	{
		*slotno = last;
		return adhoc[last].cs;
	}
	for (int i = 0; i < ADHOC_SLOTS; i++)
		if (i != last && adhoc_matches(&adhoc[i], (const char *) raw, keylen, external))
		{
			*slotno = last = i;
			return adhoc[i].cs;
		}

	schema = DatumGetJsonbP(PointerGetDatum(raw));
	*slotno = last = adhoc_next;
	slot = &adhoc[adhoc_next];
	adhoc_next = (adhoc_next + 1) % ADHOC_SLOTS;
	if (slot->cxt)
		MemoryContextDelete(slot->cxt);
	memset(slot, 0, sizeof(*slot));

	cxt = AllocSetContextCreate(TopMemoryContext, "prefactor ad-hoc schema", ALLOCSET_SMALL_SIZES);
	slot->cxt = cxt;
	engine_options(&opt, &alloc, cxt, NULL);
	if (js_compile(jsonb_accessor(), jsonb_root_node(schema), &opt, &cs, &problems) != JS_OK)
	{
		char	   *first = problems && problems->count > 0 ?
			psprintf("%s: %s", problems->items[0].keyword_location, problems->items[0].message) :
			pstrdup("unknown problem");
		size_t		count = problems ? problems->count : 0;

		MemoryContextDelete(cxt);
		slot->cxt = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the JSON Schema is malformed"),
				 errdetail("%zu problem(s); first at \"%s\"", count, first),
				 errhint("prefactor.jsonschema_check(schema) lists every problem.")));
	}
	slot->key = MemoryContextAlloc(cxt, keylen);
	memcpy(slot->key, raw, keylen);
	slot->keylen = keylen;
	slot->external = external;
	if (external)
	{
		slot->lxid = MyProc->lxid;
		slot->len = VARSIZE(schema);
		slot->bytes = MemoryContextAlloc(cxt, slot->len);
		memcpy(slot->bytes, schema, slot->len);
	}
	slot->format_assertion = prefactor_format_assertion;
	slot->gen = ++adhoc_gen;
	slot->cs = cs;
	return cs;
}

/*
 * The answers of jsonschema_is_valid and jsonschema_errors for a compiled
 * schema, however it was found (with or without a documents map).
 */
static bool
is_valid_answer(const js_compiled *cs, Jsonb *doc)
{
	MemoryContext caller = CurrentMemoryContext;
	int			rc;

	check_stack_depth();
	MemoryContextSwitchTo(scratch());
	rc = js_is_valid(cs, jsonb_accessor(), jsonb_root_node(doc));
	MemoryContextSwitchTo(caller);
	MemoryContextReset(scratch_cxt);
	if (rc < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("JSON Schema validation failed with engine code %d", rc),
				 errdetail("The validator could not allocate its working memory."),
				 errhint("Retry; if it persists, report it with the schema.")));
	if (rc == JS_LIMIT_REACHED)
	{
		/* rare: a second, collecting pass says which limit and where */
		bool		conforms;
		Datum		errors;
		bool		errors_null;
		js_result  *r;

		if (validate_doc(cs, doc, &conforms, &errors, &errors_null, &r) == JS_LIMIT_REACHED)
			raise_limit(r);
		MemoryContextReset(scratch_cxt);
		return conforms;
	}
	return rc == JS_VALID;
}

static Datum
errors_answer(const js_compiled *cs, Jsonb *doc)
{
	bool		conforms;
	Datum		errors;
	bool		errors_null;
	js_result  *r;

	if (validate_doc(cs, doc, &conforms, &errors, &errors_null, &r) == JS_LIMIT_REACHED)
		raise_limit(r);
	MemoryContextReset(scratch_cxt);
	if (errors_null)
		return DirectFunctionCall1(jsonb_in, CStringGetDatum("[]"));
	return errors;
}

PG_FUNCTION_INFO_V1(prefactor_jsonschema_is_valid);
Datum
prefactor_jsonschema_is_valid(PG_FUNCTION_ARGS)
{
	const js_compiled *cs = adhoc_compiled(fcinfo);

	PG_RETURN_BOOL(is_valid_answer(cs, PG_GETARG_JSONB_P(1)));
}

PG_FUNCTION_INFO_V1(prefactor_jsonschema_errors);
Datum
prefactor_jsonschema_errors(PG_FUNCTION_ARGS)
{
	const js_compiled *cs = adhoc_compiled(fcinfo);

	return errors_answer(cs, PG_GETARG_JSONB_P(1));
}

/* Problems of one schema as jsonb (an empty array when well-formed). */
static Datum
check_schema(Jsonb *schema, const js_registry *reg, const char *span_type, const char *part,
			 bool *any)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "prefactor schema check",
											   ALLOCSET_DEFAULT_SIZES);
	js_options	opt;
	js_allocator alloc;
	js_problems *problems = NULL;
	Datum		result;

	engine_options(&opt, &alloc, work, reg);
	MemoryContextSwitchTo(work);
	if (js_check(jsonb_accessor(), jsonb_root_node(schema), &opt, &problems) != JS_OK && problems == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("JSON Schema check failed")));
	MemoryContextSwitchTo(caller);
	*any = problems != NULL && problems->count > 0;
	result = problems_to_jsonb(problems, span_type, part);
	MemoryContextDelete(work);
	return result;
}

PG_FUNCTION_INFO_V1(prefactor_jsonschema_check);
Datum
prefactor_jsonschema_check(PG_FUNCTION_ARGS)
{
	bool		any;

	check_stack_depth();
	return check_schema(PG_GETARG_JSONB_P(0), NULL, NULL, NULL, &any);
}

/* Concatenates two jsonb arrays. */
static Datum
jsonb_array_concat(Datum a, Datum b)
{
	return DirectFunctionCall2(jsonb_concat, a, b);
}

/*
 * The problems of an activity schema document's span-type schemas with reg
 * (which may hold shared documents already) as their registry; (Datum) 0
 * when there are none.
 */
static Datum
activity_problems(Jsonb *doc, js_registry *reg)
{
	JsonbValue	key;
	JsonbValue *types;
	Datum		all = DirectFunctionCall1(jsonb_in, CStringGetDatum("[]"));
	bool		found_any = false;
	static const char *const parts[2] = {"params", "result"};

	if (!JB_ROOT_IS_OBJECT(doc))
		return (Datum) 0;
	key.type = jbvString;
	key.val.string.val = "span_type_schemas";
	key.val.string.len = strlen("span_type_schemas");
	types = findJsonbValueFromContainer(&doc->root, JB_FOBJECT, &key);
	if (types == NULL || types->type != jbvBinary || !JsonContainerIsArray(types->val.binary.data))
		return (Datum) 0;

	/* the same registry the span validation uses */
	register_doc(reg, SCHEMA_DOC_URI, doc);
	for (int pass = 0; pass < 2; pass++)
	{
		JsonbContainer *arr = types->val.binary.data;

		for (uint32 i = 0; i < JsonContainerSize(arr); i++)
		{
			JsonbValue *t = getIthJsonbValueFromContainer(arr, i);
			JsonbValue	name;

			if (t->type != jbvBinary || !JsonContainerIsObject(t->val.binary.data) ||
				getKeyJsonValueFromContainer(t->val.binary.data, "name", 4, &name) == NULL ||
				name.type != jbvString)
				continue;
			for (int p = 0; p < 2; p++)
			{
				char	   *field = psprintf("%s_schema", parts[p]);
				JsonbValue	s;
				char	   *tname = pnstrdup(name.val.string.val, name.val.string.len);
				Jsonb	   *sj;

				if (getKeyJsonValueFromContainer(t->val.binary.data, field, strlen(field), &s) == NULL ||
					s.type == jbvNull)
					continue;
				sj = JsonbValueToJsonb(&s);
				if (pass == 0)
					register_doc(reg, psprintf(SPAN_TYPE_URI, tname, parts[p]), sj);
				else
				{
					bool		any;
					Datum		probs = check_schema(sj, reg, tname, parts[p], &any);

					if (any)
					{
						all = jsonb_array_concat(all, probs);
						found_any = true;
					}
				}
			}
		}
	}
	return found_any ? all : (Datum) 0;
}

PG_FUNCTION_INFO_V1(prefactor_activity_schema_problems);
Datum
prefactor_activity_schema_problems(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	MemoryContext regcxt;
	js_options	opt;
	js_allocator alloc;
	js_registry *reg;
	Datum		result;

	check_stack_depth();
	regcxt = AllocSetContextCreate(CurrentMemoryContext, "prefactor schema registry",
								   ALLOCSET_DEFAULT_SIZES);
	engine_options(&opt, &alloc, regcxt, NULL);
	reg = js_registry_new(&alloc);
	result = activity_problems(doc, reg);
	MemoryContextDelete(regcxt);
	if (result == (Datum) 0)
		PG_RETURN_NULL();
	return result;
}

/*
 * ---- Shared schema documents ------------------------------------------------
 * A schema may $ref documents that are not part of it: the SQL functions take
 * a map of URI to document, and a span type's schemas see the documents its
 * account registered (prefactor.schema_documents), pinned to the versions
 * current when its schema version was created (schema_version_documents).
 */

/*
 * Adds every member of 'documents' (an object of URI to schema) to reg;
 * raises when the map is not an object or a URI is not usable.
 */
static void
register_document_map(js_registry *reg, Jsonb *documents)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *uri = NULL;

	if (!JB_ROOT_IS_OBJECT(documents) || JB_ROOT_IS_SCALAR(documents))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("documents must be a JSON object of URI to schema"),
				 errdetail("Got %s.", prefactor_excerpt(JsonbToCString(NULL, &documents->root,
																	   VARSIZE(documents)))),
				 errhint("Pass {\"https://example.com/common.json\": {...}, ...}.")));
	it = JsonbIteratorInit(&documents->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			const char *hash;

			uri = pnstrdup(v.val.string.val, v.val.string.len);
			hash = strchr(uri, '#');
			/* a document is named without a fragment (an empty one is dropped) */
			if (uri[0] == '\0' || (hash != NULL && hash[1] != '\0'))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("a document URI must be non-empty and have no fragment"),
						 errdetail("Got \"%s\".", prefactor_excerpt(uri)),
						 errhint("Name each document by the URI its $ref uses, without \"#...\".")));
		}
		else if (tok == WJB_VALUE && uri != NULL)
		{
			Jsonb	   *doc = JsonbValueToJsonb(&v);

			if (js_registry_add(reg, uri, jsonb_accessor(), jsonb_root_node(doc)) != JS_OK)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("the document \"%s\" could not be read", prefactor_excerpt(uri)),
						 errdetail("It is nested too deeply or memory ran out."),
						 errhint("Flatten the document.")));
			uri = NULL;
		}
	}
}

/*
 * Registers the shared documents pinned to the schema version of span_type
 * (called from load_schema_version; its own SPI level keeps the caller's
 * SPI_tuptable).
 */
static void
register_schema_documents(js_registry *reg, const Pfid *account, const Pfid *span_type)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {prefactor_pfid_oid(), prefactor_pfid_oid()};
	Datum		values[2] = {PfidPGetDatum(account), PfidPGetDatum(span_type)};

	SPI_connect();
	prefactor_spi_execute(&plan,
						  "SELECT d.uri, d.schema FROM prefactor.schema_version_documents p"
						  " JOIN prefactor.schema_documents d ON d.account_id OPERATOR(prefactor.=) p.account_id"
						  " AND d.id OPERATOR(prefactor.=) p.document_id"
						  " JOIN prefactor.span_types t ON t.account_id OPERATOR(prefactor.=) p.account_id"
						  " AND t.schema_version_id OPERATOR(prefactor.=) p.schema_version_id"
						  " WHERE p.account_id OPERATOR(prefactor.=) $1 AND t.id OPERATOR(prefactor.=) $2",
						  2, argtypes, values, NULL, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *uri = SPI_getvalue(tup, desc, 1);
		Datum		d = SPI_getbinval(tup, desc, 2, &isnull);

		if (!isnull)
			register_doc(reg, uri, DatumGetJsonbP(d));
	}
	SPI_finish();
}

/*
 * Compiled schemas of the documents-map variants, a few kept like the
 * ad-hoc ones, keyed by the schema's and the map's bytes together.
 */
#define DOCSET_SLOTS 4
typedef struct DocsetSchema
{
	uint32		hash;
	Size		slen;
	Size		dlen;
	char	   *bytes;			/* schema bytes, then documents bytes */
	bool		format_assertion;
	MemoryContext cxt;
	js_compiled *cs;
} DocsetSchema;

static DocsetSchema docset[DOCSET_SLOTS];
static int	docset_next = 0;

/* The compiled form of schema with documents; raises with its problems if malformed. */
static const js_compiled *
docset_compiled(Jsonb *schema, Jsonb *documents)
{
	Size		slen = VARSIZE(schema);
	Size		dlen = VARSIZE(documents);
	uint32		hash = DatumGetUInt32(hash_any((unsigned char *) schema, slen)) ^
		DatumGetUInt32(hash_any((unsigned char *) documents, dlen)) * 31;
	DocsetSchema *slot;
	MemoryContext cxt;
	MemoryContext regcxt;
	js_options	opt;
	js_allocator alloc;
	js_allocator regalloc;
	js_registry *reg;
	js_problems *problems = NULL;
	js_compiled *cs = NULL;

	for (int i = 0; i < DOCSET_SLOTS; i++)
		if (docset[i].cs && docset[i].hash == hash && docset[i].slen == slen &&
			docset[i].dlen == dlen && docset[i].format_assertion == prefactor_format_assertion &&
			memcmp(docset[i].bytes, schema, slen) == 0 &&
			memcmp(docset[i].bytes + slen, documents, dlen) == 0)
			return docset[i].cs;

	slot = &docset[docset_next];
	docset_next = (docset_next + 1) % DOCSET_SLOTS;
	if (slot->cxt)
		MemoryContextDelete(slot->cxt);
	memset(slot, 0, sizeof(*slot));

	/* the registry is needed only while compiling: the compiled schema copies what it uses */
	regcxt = AllocSetContextCreate(CurrentMemoryContext, "prefactor documents registry",
								   ALLOCSET_DEFAULT_SIZES);
	engine_options(&opt, &regalloc, regcxt, NULL);
	reg = js_registry_new(&regalloc);
	if (reg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory for the JSON Schema documents"),
				 errdetail("The document registry could not be allocated."),
				 errhint("Pass fewer or smaller documents.")));
	register_document_map(reg, documents);

	cxt = AllocSetContextCreate(TopMemoryContext, "prefactor documents schema", ALLOCSET_SMALL_SIZES);
	slot->cxt = cxt;
	engine_options(&opt, &alloc, cxt, reg);
	if (js_compile(jsonb_accessor(), jsonb_root_node(schema), &opt, &cs, &problems) != JS_OK)
	{
		char	   *first = problems && problems->count > 0 ?
			psprintf("%s: %s", problems->items[0].keyword_location, problems->items[0].message) :
			pstrdup("unknown problem");
		size_t		count = problems ? problems->count : 0;

		first = prefactor_excerpt(first);
		MemoryContextDelete(cxt);
		MemoryContextDelete(regcxt);
		slot->cxt = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the JSON Schema is malformed"),
				 errdetail("%zu problem(s); first at \"%s\"", count, first),
				 errhint("prefactor.jsonschema_check(schema) lists every problem; a $ref to another document needs that document in the documents map.")));
	}
	MemoryContextDelete(regcxt);
	slot->bytes = MemoryContextAlloc(cxt, slen + dlen);
	memcpy(slot->bytes, schema, slen);
	memcpy(slot->bytes + slen, documents, dlen);
	slot->slen = slen;
	slot->dlen = dlen;
	slot->hash = hash;
	slot->format_assertion = prefactor_format_assertion;
	slot->cs = cs;
	return cs;
}

PG_FUNCTION_INFO_V1(prefactor_jsonschema_is_valid_documents);
Datum
prefactor_jsonschema_is_valid_documents(PG_FUNCTION_ARGS)
{
	const js_compiled *cs = docset_compiled(PG_GETARG_JSONB_P(0), PG_GETARG_JSONB_P(2));

	PG_RETURN_BOOL(is_valid_answer(cs, PG_GETARG_JSONB_P(1)));
}

PG_FUNCTION_INFO_V1(prefactor_jsonschema_errors_documents);
Datum
prefactor_jsonschema_errors_documents(PG_FUNCTION_ARGS)
{
	const js_compiled *cs = docset_compiled(PG_GETARG_JSONB_P(0), PG_GETARG_JSONB_P(2));

	return errors_answer(cs, PG_GETARG_JSONB_P(1));
}

PG_FUNCTION_INFO_V1(prefactor_activity_schema_problems_documents);
Datum
prefactor_activity_schema_problems_documents(PG_FUNCTION_ARGS)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);
	Jsonb	   *documents = PG_GETARG_JSONB_P(1);
	MemoryContext regcxt;
	js_options	opt;
	js_allocator alloc;
	js_registry *reg;
	Datum		result;

	check_stack_depth();
	regcxt = AllocSetContextCreate(CurrentMemoryContext, "prefactor schema registry",
								   ALLOCSET_DEFAULT_SIZES);
	engine_options(&opt, &alloc, regcxt, NULL);
	reg = js_registry_new(&alloc);
	register_document_map(reg, documents);
	result = activity_problems(doc, reg);
	MemoryContextDelete(regcxt);
	if (result == (Datum) 0)
		PG_RETURN_NULL();
	return result;
}
