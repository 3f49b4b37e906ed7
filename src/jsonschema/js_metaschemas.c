/*
 * js_metaschemas.c - embedded meta-schemas (draft 2020-12 and its
 * vocabularies, draft-07) so that $ref to them works without a network.
 * Generated from the official meta-schema documents; do not edit by hand.
 */
#include "js_internal.h"

#include <string.h>

/* https://json-schema.org/draft/2020-12/schema */
static const char meta_0[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/schema\",\"$vocabulary\":{\"https://json-"
	"schema.org/draft/2020-12/vocab/core\":true,\"https://json-schema.org/dra"
	"ft/2020-12/vocab/applicator\":true,\"https://json-schema.org/draft/2020-"
	"12/vocab/unevaluated\":true,\"https://json-schema.org/draft/2020-12/voca"
	"b/validation\":true,\"https://json-schema.org/draft/2020-12/vocab/meta-d"
	"ata\":true,\"https://json-schema.org/draft/2020-12/vocab/format-annotati"
	"on\":true,\"https://json-schema.org/draft/2020-12/vocab/content\":true},\""
	"$dynamicAnchor\":\"meta\",\"title\":\"Core and Validation specifications met"
	"a-schema\",\"allOf\":[{\"$ref\":\"meta/core\"},{\"$ref\":\"meta/applicator\"},{\"$"
	"ref\":\"meta/unevaluated\"},{\"$ref\":\"meta/validation\"},{\"$ref\":\"meta/meta"
	"-data\"},{\"$ref\":\"meta/format-annotation\"},{\"$ref\":\"meta/content\"}],\"ty"
	"pe\":[\"object\",\"boolean\"],\"$comment\":\"This meta-schema also defines key"
	"words that have appeared in previous drafts in order to prevent incomp"
	"atible extensions as they remain in common use.\",\"properties\":{\"defini"
	"tions\":{\"$comment\":\"\\\"definitions\\\" has been replaced by \\\"$defs\\\".\",\""
	"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":\"#meta\"},\"depreca"
	"ted\":true,\"default\":{}},\"dependencies\":{\"$comment\":\"\\\"dependencies\\\" h"
	"as been split and replaced by \\\"dependentSchemas\\\" and \\\"dependentRequ"
	"ired\\\" in order to serve their differing semantics.\",\"type\":\"object\",\""
	"additionalProperties\":{\"anyOf\":[{\"$dynamicRef\":\"#meta\"},{\"$ref\":\"meta/"
	"validation#/$defs/stringArray\"}]},\"deprecated\":true,\"default\":{}},\"$re"
	"cursiveAnchor\":{\"$comment\":\"\\\"$recursiveAnchor\\\" has been replaced by "
	"\\\"$dynamicAnchor\\\".\",\"$ref\":\"meta/core#/$defs/anchorString\",\"deprecate"
	"d\":true},\"$recursiveRef\":{\"$comment\":\"\\\"$recursiveRef\\\" has been repla"
	"ced by \\\"$dynamicRef\\\".\",\"$ref\":\"meta/core#/$defs/uriReferenceString\","
	"\"deprecated\":true}}}";

/* https://json-schema.org/draft/2020-12/meta/core */
static const char meta_1[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/core\",\"$vocabulary\":{\"https://js"
	"on-schema.org/draft/2020-12/vocab/core\":true},\"$dynamicAnchor\":\"meta\","
	"\"title\":\"Core vocabulary meta-schema\",\"type\":[\"object\",\"boolean\"],\"pro"
	"perties\":{\"$id\":{\"$ref\":\"#/$defs/uriReferenceString\",\"$comment\":\"Non-e"
	"mpty fragments not allowed.\",\"pattern\":\"^[^#]*#?$\"},\"$schema\":{\"$ref\":"
	"\"#/$defs/uriString\"},\"$ref\":{\"$ref\":\"#/$defs/uriReferenceString\"},\"$an"
	"chor\":{\"$ref\":\"#/$defs/anchorString\"},\"$dynamicRef\":{\"$ref\":\"#/$defs/u"
	"riReferenceString\"},\"$dynamicAnchor\":{\"$ref\":\"#/$defs/anchorString\"},\""
	"$vocabulary\":{\"type\":\"object\",\"propertyNames\":{\"$ref\":\"#/$defs/uriStri"
	"ng\"},\"additionalProperties\":{\"type\":\"boolean\"}},\"$comment\":{\"type\":\"st"
	"ring\"},\"$defs\":{\"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":"
	"\"#meta\"}}},\"$defs\":{\"anchorString\":{\"type\":\"string\",\"pattern\":\"^[A-Za-"
	"z_][-A-Za-z0-9._]*$\"},\"uriString\":{\"type\":\"string\",\"format\":\"uri\"},\"ur"
	"iReferenceString\":{\"type\":\"string\",\"format\":\"uri-reference\"}}}";

/* https://json-schema.org/draft/2020-12/meta/applicator */
static const char meta_2[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/applicator\",\"$vocabulary\":{\"http"
	"s://json-schema.org/draft/2020-12/vocab/applicator\":true},\"$dynamicAnc"
	"hor\":\"meta\",\"title\":\"Applicator vocabulary meta-schema\",\"type\":[\"objec"
	"t\",\"boolean\"],\"properties\":{\"prefixItems\":{\"$ref\":\"#/$defs/schemaArray"
	"\"},\"items\":{\"$dynamicRef\":\"#meta\"},\"contains\":{\"$dynamicRef\":\"#meta\"},"
	"\"additionalProperties\":{\"$dynamicRef\":\"#meta\"},\"properties\":{\"type\":\"o"
	"bject\",\"additionalProperties\":{\"$dynamicRef\":\"#meta\"},\"default\":{}},\"p"
	"atternProperties\":{\"type\":\"object\",\"additionalProperties\":{\"$dynamicRe"
	"f\":\"#meta\"},\"propertyNames\":{\"format\":\"regex\"},\"default\":{}},\"dependen"
	"tSchemas\":{\"type\":\"object\",\"additionalProperties\":{\"$dynamicRef\":\"#met"
	"a\"},\"default\":{}},\"propertyNames\":{\"$dynamicRef\":\"#meta\"},\"if\":{\"$dyna"
	"micRef\":\"#meta\"},\"then\":{\"$dynamicRef\":\"#meta\"},\"else\":{\"$dynamicRef\":"
	"\"#meta\"},\"allOf\":{\"$ref\":\"#/$defs/schemaArray\"},\"anyOf\":{\"$ref\":\"#/$de"
	"fs/schemaArray\"},\"oneOf\":{\"$ref\":\"#/$defs/schemaArray\"},\"not\":{\"$dynam"
	"icRef\":\"#meta\"}},\"$defs\":{\"schemaArray\":{\"type\":\"array\",\"minItems\":1,\""
	"items\":{\"$dynamicRef\":\"#meta\"}}}}";

/* https://json-schema.org/draft/2020-12/meta/unevaluated */
static const char meta_3[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/unevaluated\",\"$vocabulary\":{\"htt"
	"ps://json-schema.org/draft/2020-12/vocab/unevaluated\":true},\"$dynamicA"
	"nchor\":\"meta\",\"title\":\"Unevaluated applicator vocabulary meta-schema\","
	"\"type\":[\"object\",\"boolean\"],\"properties\":{\"unevaluatedItems\":{\"$dynami"
	"cRef\":\"#meta\"},\"unevaluatedProperties\":{\"$dynamicRef\":\"#meta\"}}}";

/* https://json-schema.org/draft/2020-12/meta/validation */
static const char meta_4[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/validation\",\"$vocabulary\":{\"http"
	"s://json-schema.org/draft/2020-12/vocab/validation\":true},\"$dynamicAnc"
	"hor\":\"meta\",\"title\":\"Validation vocabulary meta-schema\",\"type\":[\"objec"
	"t\",\"boolean\"],\"properties\":{\"type\":{\"anyOf\":[{\"$ref\":\"#/$defs/simpleTy"
	"pes\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/simpleTypes\"},\"minItems"
	"\":1,\"uniqueItems\":true}]},\"const\":true,\"enum\":{\"type\":\"array\",\"items\":"
	"true},\"multipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},\"maximum\":{\""
	"type\":\"number\"},\"exclusiveMaximum\":{\"type\":\"number\"},\"minimum\":{\"type\""
	":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},\"maxLength\":{\"$ref\":\"#"
	"/$defs/nonNegativeInteger\"},\"minLength\":{\"$ref\":\"#/$defs/nonNegativeIn"
	"tegerDefault0\"},\"pattern\":{\"type\":\"string\",\"format\":\"regex\"},\"maxItems"
	"\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minItems\":{\"$ref\":\"#/$defs/no"
	"nNegativeIntegerDefault0\"},\"uniqueItems\":{\"type\":\"boolean\",\"default\":f"
	"alse},\"maxContains\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minContains"
	"\":{\"$ref\":\"#/$defs/nonNegativeInteger\",\"default\":1},\"maxProperties\":{\""
	"$ref\":\"#/$defs/nonNegativeInteger\"},\"minProperties\":{\"$ref\":\"#/$defs/n"
	"onNegativeIntegerDefault0\"},\"required\":{\"$ref\":\"#/$defs/stringArray\"},"
	"\"dependentRequired\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#"
	"/$defs/stringArray\"}}},\"$defs\":{\"nonNegativeInteger\":{\"type\":\"integer\""
	",\"minimum\":0},\"nonNegativeIntegerDefault0\":{\"$ref\":\"#/$defs/nonNegativ"
	"eInteger\",\"default\":0},\"simpleTypes\":{\"enum\":[\"array\",\"boolean\",\"integ"
	"er\",\"null\",\"number\",\"object\",\"string\"]},\"stringArray\":{\"type\":\"array\","
	"\"items\":{\"type\":\"string\"},\"uniqueItems\":true,\"default\":[]}}}";

/* https://json-schema.org/draft/2020-12/meta/meta-data */
static const char meta_5[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/meta-data\",\"$vocabulary\":{\"https"
	"://json-schema.org/draft/2020-12/vocab/meta-data\":true},\"$dynamicAncho"
	"r\":\"meta\",\"title\":\"Meta-data vocabulary meta-schema\",\"type\":[\"object\","
	"\"boolean\"],\"properties\":{\"title\":{\"type\":\"string\"},\"description\":{\"typ"
	"e\":\"string\"},\"default\":true,\"deprecated\":{\"type\":\"boolean\",\"default\":f"
	"alse},\"readOnly\":{\"type\":\"boolean\",\"default\":false},\"writeOnly\":{\"type"
	"\":\"boolean\",\"default\":false},\"examples\":{\"type\":\"array\",\"items\":true}}"
	"}";

/* https://json-schema.org/draft/2020-12/meta/format-annotation */
static const char meta_6[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/format-annotation\",\"$vocabulary\""
	":{\"https://json-schema.org/draft/2020-12/vocab/format-annotation\":true"
	"},\"$dynamicAnchor\":\"meta\",\"title\":\"Format vocabulary meta-schema for a"
	"nnotation results\",\"type\":[\"object\",\"boolean\"],\"properties\":{\"format\":"
	"{\"type\":\"string\"}}}";

/* https://json-schema.org/draft/2020-12/meta/content */
static const char meta_7[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/content\",\"$vocabulary\":{\"https:/"
	"/json-schema.org/draft/2020-12/vocab/content\":true},\"$dynamicAnchor\":\""
	"meta\",\"title\":\"Content vocabulary meta-schema\",\"type\":[\"object\",\"boole"
	"an\"],\"properties\":{\"contentEncoding\":{\"type\":\"string\"},\"contentMediaTy"
	"pe\":{\"type\":\"string\"},\"contentSchema\":{\"$dynamicRef\":\"#meta\"}}}";

/* https://json-schema.org/draft/2020-12/meta/format-assertion */
static const char meta_8[] =
	"{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"https"
	"://json-schema.org/draft/2020-12/meta/format-assertion\",\"$vocabulary\":"
	"{\"https://json-schema.org/draft/2020-12/vocab/format-assertion\":true},"
	"\"$dynamicAnchor\":\"meta\",\"title\":\"Format vocabulary meta-schema for ass"
	"ertion results\",\"type\":[\"object\",\"boolean\"],\"properties\":{\"format\":{\"t"
	"ype\":\"string\"}}}";

/* http://json-schema.org/draft-07/schema */
static const char meta_9[] =
	"{\"$schema\":\"http://json-schema.org/draft-07/schema#\",\"$id\":\"http://jso"
	"n-schema.org/draft-07/schema#\",\"title\":\"Core schema meta-schema\",\"defi"
	"nitions\":{\"schemaArray\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"$ref\":\""
	"#\"}},\"nonNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},\"nonNegativeI"
	"ntegerDefault0\":{\"allOf\":[{\"$ref\":\"#/definitions/nonNegativeInteger\"},"
	"{\"default\":0}]},\"simpleTypes\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"nu"
	"ll\",\"number\",\"object\",\"string\"]},\"stringArray\":{\"type\":\"array\",\"items\""
	":{\"type\":\"string\"},\"uniqueItems\":true,\"default\":[]}},\"type\":[\"object\","
	"\"boolean\"],\"properties\":{\"$id\":{\"type\":\"string\",\"format\":\"uri-referenc"
	"e\"},\"$schema\":{\"type\":\"string\",\"format\":\"uri\"},\"$ref\":{\"type\":\"string\""
	",\"format\":\"uri-reference\"},\"$comment\":{\"type\":\"string\"},\"title\":{\"type"
	"\":\"string\"},\"description\":{\"type\":\"string\"},\"default\":true,\"readOnly\":"
	"{\"type\":\"boolean\",\"default\":false},\"examples\":{\"type\":\"array\",\"items\":"
	"true},\"multipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},\"maximum\":{\""
	"type\":\"number\"},\"exclusiveMaximum\":{\"type\":\"number\"},\"minimum\":{\"type\""
	":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},\"maxLength\":{\"$ref\":\"#"
	"/definitions/nonNegativeInteger\"},\"minLength\":{\"$ref\":\"#/definitions/n"
	"onNegativeIntegerDefault0\"},\"pattern\":{\"type\":\"string\",\"format\":\"regex"
	"\"},\"additionalItems\":{\"$ref\":\"#\"},\"items\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$re"
	"f\":\"#/definitions/schemaArray\"}],\"default\":true},\"maxItems\":{\"$ref\":\"#"
	"/definitions/nonNegativeInteger\"},\"minItems\":{\"$ref\":\"#/definitions/no"
	"nNegativeIntegerDefault0\"},\"uniqueItems\":{\"type\":\"boolean\",\"default\":f"
	"alse},\"contains\":{\"$ref\":\"#\"},\"maxProperties\":{\"$ref\":\"#/definitions/n"
	"onNegativeInteger\"},\"minProperties\":{\"$ref\":\"#/definitions/nonNegative"
	"IntegerDefault0\"},\"required\":{\"$ref\":\"#/definitions/stringArray\"},\"add"
	"itionalProperties\":{\"$ref\":\"#\"},\"definitions\":{\"type\":\"object\",\"additi"
	"onalProperties\":{\"$ref\":\"#\"},\"default\":{}},\"properties\":{\"type\":\"objec"
	"t\",\"additionalProperties\":{\"$ref\":\"#\"},\"default\":{}},\"patternPropertie"
	"s\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#\"},\"propertyNames"
	"\":{\"format\":\"regex\"},\"default\":{}},\"dependencies\":{\"type\":\"object\",\"ad"
	"ditionalProperties\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#/definitions/stri"
	"ngArray\"}]}},\"propertyNames\":{\"$ref\":\"#\"},\"const\":true,\"enum\":{\"type\":"
	"\"array\",\"items\":true},\"type\":{\"anyOf\":[{\"$ref\":\"#/definitions/simpleTy"
	"pes\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/simpleTypes\"},\"mi"
	"nItems\":1,\"uniqueItems\":true}]},\"format\":{\"type\":\"string\"},\"contentMed"
	"iaType\":{\"type\":\"string\"},\"contentEncoding\":{\"type\":\"string\"},\"if\":{\"$"
	"ref\":\"#\"},\"then\":{\"$ref\":\"#\"},\"else\":{\"$ref\":\"#\"},\"allOf\":{\"$ref\":\"#/d"
	"efinitions/schemaArray\"},\"anyOf\":{\"$ref\":\"#/definitions/schemaArray\"},"
	"\"oneOf\":{\"$ref\":\"#/definitions/schemaArray\"},\"not\":{\"$ref\":\"#\"}},\"defa"
	"ult\":true}";

static const struct
{
	const char *uri;
	const char *text;
}			metas[] = {
	{"https://json-schema.org/draft/2020-12/schema", meta_0},
	{"https://json-schema.org/draft/2020-12/meta/core", meta_1},
	{"https://json-schema.org/draft/2020-12/meta/applicator", meta_2},
	{"https://json-schema.org/draft/2020-12/meta/unevaluated", meta_3},
	{"https://json-schema.org/draft/2020-12/meta/validation", meta_4},
	{"https://json-schema.org/draft/2020-12/meta/meta-data", meta_5},
	{"https://json-schema.org/draft/2020-12/meta/format-annotation", meta_6},
	{"https://json-schema.org/draft/2020-12/meta/content", meta_7},
	{"https://json-schema.org/draft/2020-12/meta/format-assertion", meta_8},
	{"http://json-schema.org/draft-07/schema", meta_9},
};

/* text of an embedded meta-schema for uri (no fragment), or NULL */
const char *
js_metaschema_text(const char *uri, size_t len)
{
	/* accept http/https variants and a trailing empty fragment */
	if (len > 0 && uri[len - 1] == '#')
		len--;
	for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++)
	{
		const char *m = metas[i].uri;
		size_t		ml = strlen(m);

		if (ml == len && memcmp(m, uri, len) == 0)
			return metas[i].text;
		/* http <-> https */
		if (strncmp(m, "https://", 8) == 0 && len + 1 == ml &&
			strncmp(uri, "http://", 7) == 0 && memcmp(m + 8, uri + 7, len - 7) == 0)
			return metas[i].text;
		if (strncmp(m, "http://", 7) == 0 && len == ml + 1 &&
			strncmp(uri, "https://", 8) == 0 && memcmp(m + 7, uri + 8, ml - 7) == 0)
			return metas[i].text;
	}
	return NULL;
}
