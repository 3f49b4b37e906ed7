/*
 * sdk_body.c
 *	  Reading the SDK protocol's JSON bodies: sdk_body (a body or one of its
 *	  parts as an object) and sdk_text (a string member). The SDK calls read a
 *	  dozen members each, so these are C rather than PL/pgSQL functions, which
 *	  cost a call handler and a search_path switch apiece.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "core/excerpt.h"

PG_FUNCTION_INFO_V1(prefactor_sdk_body);
/* sdk_body(body, what): the body as an object ({} for NULL or JSON null); 22023 for any other type. */
Datum
prefactor_sdk_body(PG_FUNCTION_ARGS)
{
	Jsonb	   *body;
	JsonbValue	root;
	const char *type;

	if (PG_ARGISNULL(0))
		return DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	body = PG_GETARG_JSONB_P(0);
	if (JB_ROOT_IS_OBJECT(body))
		PG_RETURN_JSONB_P(body);
	root.type = jbvBinary;
	root.val.binary.data = &body->root;
	root.val.binary.len = VARSIZE(body) - VARHDRSZ;
	type = JsonbTypeName(&root);	/* jsonb_typeof's name, of a scalar root too */
	if (strcmp(type, "null") == 0)
		return DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be a JSON object, not %s",
					PG_ARGISNULL(1) ? "body" : text_to_cstring(PG_GETARG_TEXT_PP(1)), type)));
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(prefactor_sdk_text);
/* sdk_text(body, key): a string member; NULL when absent or JSON null; 22023 for another type. */
Datum
prefactor_sdk_text(PG_FUNCTION_ARGS)
{
	Jsonb	   *body = PG_GETARG_JSONB_P(0);
	text	   *key = PG_GETARG_TEXT_PP(1);
	JsonbValue	vbuf;
	JsonbValue *v;
	Jsonb	   *value;

	if (!JB_ROOT_IS_OBJECT(body))
		PG_RETURN_NULL();
	v = getKeyJsonValueFromContainer(&body->root, VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), &vbuf);
	if (v == NULL || v->type == jbvNull)
		PG_RETURN_NULL();
	if (v->type == jbvString)
		PG_RETURN_TEXT_P(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
	value = JsonbValueToJsonb(v);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be a string, not %s", text_to_cstring(key), JsonbTypeName(v)),
			 errdetail("Got %s.", prefactor_excerpt(JsonbToCString(NULL, &value->root, VARSIZE(value))))));
	PG_RETURN_NULL();
}
