/*
 * js_metaschemas.c - embedded meta-schemas (draft 2020-12 and 2019-09 with
 * their vocabularies, draft-07, draft-06, draft-04) so that $ref to them
 * works without a network.  Generated (minified) from the official
 * meta-schema documents, as published by json-schema.org and shipped in
 * python-jsonschema's jsonschema-specifications; do not edit by hand.
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

/* http://json-schema.org/draft-06/schema */
static const char meta_10[] =
	"{\"$schema\":\"http://json-schema.org/draft-06/schema#\",\"$id\":\"htt"
	"p://json-schema.org/draft-06/schema#\",\"title\":\"Core schema meta-sc"
	"hema\",\"definitions\":{\"schemaArray\":{\"type\":\"array\",\"minItems"
	"\":1,\"items\":{\"$ref\":\"#\"}},\"nonNegativeInteger\":{\"type\":\"in"
	"teger\",\"minimum\":0},\"nonNegativeIntegerDefault0\":{\"allOf\":[{\"$"
	"ref\":\"#/definitions/nonNegativeInteger\"},{\"default\":0}]},\"simple"
	"Types\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"null\",\"number"
	"\",\"object\",\"string\"]},\"stringArray\":{\"type\":\"array\",\"items"
	"\":{\"type\":\"string\"},\"uniqueItems\":true,\"default\":[]}},\"type\""
	":[\"object\",\"boolean\"],\"properties\":{\"$id\":{\"type\":\"string\""
	",\"format\":\"uri-reference\"},\"$schema\":{\"type\":\"string\",\"form"
	"at\":\"uri\"},\"$ref\":{\"type\":\"string\",\"format\":\"uri-reference"
	"\"},\"title\":{\"type\":\"string\"},\"description\":{\"type\":\"string"
	"\"},\"default\":{},\"examples\":{\"type\":\"array\",\"items\":{}},\"mu"
	"ltipleOf\":{\"type\":\"number\",\"exclusiveMinimum\":0},\"maximum\":{\""
	"type\":\"number\"},\"exclusiveMaximum\":{\"type\":\"number\"},\"minimu"
	"m\":{\"type\":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},\""
	"maxLength\":{\"$ref\":\"#/definitions/nonNegativeInteger\"},\"minLengt"
	"h\":{\"$ref\":\"#/definitions/nonNegativeIntegerDefault0\"},\"pattern\""
	":{\"type\":\"string\",\"format\":\"regex\"},\"additionalItems\":{\"$re"
	"f\":\"#\"},\"items\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#/defini"
	"tions/schemaArray\"}],\"default\":{}},\"maxItems\":{\"$ref\":\"#/defin"
	"itions/nonNegativeInteger\"},\"minItems\":{\"$ref\":\"#/definitions/no"
	"nNegativeIntegerDefault0\"},\"uniqueItems\":{\"type\":\"boolean\",\"de"
	"fault\":false},\"contains\":{\"$ref\":\"#\"},\"maxProperties\":{\"$ref"
	"\":\"#/definitions/nonNegativeInteger\"},\"minProperties\":{\"$ref\":\""
	"#/definitions/nonNegativeIntegerDefault0\"},\"required\":{\"$ref\":\"#"
	"/definitions/stringArray\"},\"additionalProperties\":{\"$ref\":\"#\"},"
	"\"definitions\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\""
	":\"#\"},\"default\":{}},\"properties\":{\"type\":\"object\",\"addition"
	"alProperties\":{\"$ref\":\"#\"},\"default\":{}},\"patternProperties\":"
	"{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#\"},\"prope"
	"rtyNames\":{\"format\":\"regex\"},\"default\":{}},\"dependencies\":{\""
	"type\":\"object\",\"additionalProperties\":{\"anyOf\":[{\"$ref\":\"#\""
	"},{\"$ref\":\"#/definitions/stringArray\"}]}},\"propertyNames\":{\"$re"
	"f\":\"#\"},\"const\":{},\"enum\":{\"type\":\"array\"},\"type\":{\"anyO"
	"f\":[{\"$ref\":\"#/definitions/simpleTypes\"},{\"type\":\"array\",\"it"
	"ems\":{\"$ref\":\"#/definitions/simpleTypes\"},\"minItems\":1,\"unique"
	"Items\":true}]},\"format\":{\"type\":\"string\"},\"allOf\":{\"$ref\":\""
	"#/definitions/schemaArray\"},\"anyOf\":{\"$ref\":\"#/definitions/schem"
	"aArray\"},\"oneOf\":{\"$ref\":\"#/definitions/schemaArray\"},\"not\":{"
	"\"$ref\":\"#\"}},\"default\":{}}";

/* http://json-schema.org/draft-04/schema */
static const char meta_11[] =
	"{\"id\":\"http://json-schema.org/draft-04/schema#\",\"$schema\":\"http"
	"://json-schema.org/draft-04/schema#\",\"description\":\"Core schema me"
	"ta-schema\",\"definitions\":{\"schemaArray\":{\"type\":\"array\",\"min"
	"Items\":1,\"items\":{\"$ref\":\"#\"}},\"positiveInteger\":{\"type\":\""
	"integer\",\"minimum\":0},\"positiveIntegerDefault0\":{\"allOf\":[{\"$r"
	"ef\":\"#/definitions/positiveInteger\"},{\"default\":0}]},\"simpleType"
	"s\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"null\",\"number\",\""
	"object\",\"string\"]},\"stringArray\":{\"type\":\"array\",\"items\":{\""
	"type\":\"string\"},\"minItems\":1,\"uniqueItems\":true}},\"type\":\"ob"
	"ject\",\"properties\":{\"id\":{\"type\":\"string\"},\"$schema\":{\"typ"
	"e\":\"string\"},\"title\":{\"type\":\"string\"},\"description\":{\"typ"
	"e\":\"string\"},\"default\":{},\"multipleOf\":{\"type\":\"number\",\"m"
	"inimum\":0,\"exclusiveMinimum\":true},\"maximum\":{\"type\":\"number\""
	"},\"exclusiveMaximum\":{\"type\":\"boolean\",\"default\":false},\"mini"
	"mum\":{\"type\":\"number\"},\"exclusiveMinimum\":{\"type\":\"boolean\""
	",\"default\":false},\"maxLength\":{\"$ref\":\"#/definitions/positiveIn"
	"teger\"},\"minLength\":{\"$ref\":\"#/definitions/positiveIntegerDefaul"
	"t0\"},\"pattern\":{\"type\":\"string\",\"format\":\"regex\"},\"additio"
	"nalItems\":{\"anyOf\":[{\"type\":\"boolean\"},{\"$ref\":\"#\"}],\"defa"
	"ult\":{}},\"items\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#/definit"
	"ions/schemaArray\"}],\"default\":{}},\"maxItems\":{\"$ref\":\"#/defini"
	"tions/positiveInteger\"},\"minItems\":{\"$ref\":\"#/definitions/positi"
	"veIntegerDefault0\"},\"uniqueItems\":{\"type\":\"boolean\",\"default\""
	":false},\"maxProperties\":{\"$ref\":\"#/definitions/positiveInteger\"}"
	",\"minProperties\":{\"$ref\":\"#/definitions/positiveIntegerDefault0\""
	"},\"required\":{\"$ref\":\"#/definitions/stringArray\"},\"additionalPr"
	"operties\":{\"anyOf\":[{\"type\":\"boolean\"},{\"$ref\":\"#\"}],\"defa"
	"ult\":{}},\"definitions\":{\"type\":\"object\",\"additionalProperties\""
	":{\"$ref\":\"#\"},\"default\":{}},\"properties\":{\"type\":\"object\","
	"\"additionalProperties\":{\"$ref\":\"#\"},\"default\":{}},\"patternPro"
	"perties\":{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#\""
	"},\"default\":{}},\"dependencies\":{\"type\":\"object\",\"additionalPr"
	"operties\":{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#/definitions/stri"
	"ngArray\"}]}},\"enum\":{\"type\":\"array\",\"minItems\":1,\"uniqueItem"
	"s\":true},\"type\":{\"anyOf\":[{\"$ref\":\"#/definitions/simpleTypes\""
	"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/definitions/simpleTypes\""
	"},\"minItems\":1,\"uniqueItems\":true}]},\"format\":{\"type\":\"string"
	"\"},\"allOf\":{\"$ref\":\"#/definitions/schemaArray\"},\"anyOf\":{\"$r"
	"ef\":\"#/definitions/schemaArray\"},\"oneOf\":{\"$ref\":\"#/definition"
	"s/schemaArray\"},\"not\":{\"$ref\":\"#\"}},\"dependencies\":{\"exclusi"
	"veMaximum\":[\"maximum\"],\"exclusiveMinimum\":[\"minimum\"]},\"defaul"
	"t\":{}}";

/* https://json-schema.org/draft/2019-09/schema */
static const char meta_12[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/schema\",\"$vocabulary\":{\"ht"
	"tps://json-schema.org/draft/2019-09/vocab/core\":true,\"https://json-s"
	"chema.org/draft/2019-09/vocab/applicator\":true,\"https://json-schema."
	"org/draft/2019-09/vocab/validation\":true,\"https://json-schema.org/dr"
	"aft/2019-09/vocab/meta-data\":true,\"https://json-schema.org/draft/201"
	"9-09/vocab/format\":false,\"https://json-schema.org/draft/2019-09/voca"
	"b/content\":true},\"$recursiveAnchor\":true,\"title\":\"Core and Valid"
	"ation specifications meta-schema\",\"allOf\":[{\"$ref\":\"meta/core\"}"
	",{\"$ref\":\"meta/applicator\"},{\"$ref\":\"meta/validation\"},{\"$ref"
	"\":\"meta/meta-data\"},{\"$ref\":\"meta/format\"},{\"$ref\":\"meta/con"
	"tent\"}],\"type\":[\"object\",\"boolean\"],\"properties\":{\"definitio"
	"ns\":{\"$comment\":\"While no longer an official keyword as it is repl"
	"aced by $defs, this keyword is retained in the meta-schema to prevent "
	"incompatible extensions as it remains in common use.\",\"type\":\"obje"
	"ct\",\"additionalProperties\":{\"$recursiveRef\":\"#\"},\"default\":{}"
	"},\"dependencies\":{\"$comment\":\"\\\"dependencies\\\" is no longer a"
	" keyword, but schema authors should avoid redefining it to facilitate "
	"a smooth transition to \\\"dependentSchemas\\\" and \\\"dependentRequi"
	"red\\\"\",\"type\":\"object\",\"additionalProperties\":{\"anyOf\":[{\""
	"$recursiveRef\":\"#\"},{\"$ref\":\"meta/validation#/$defs/stringArray\""
	"}]}}}}";

/* https://json-schema.org/draft/2019-09/meta/core */
static const char meta_13[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/meta/core\",\"$vocabulary\":{\""
	"https://json-schema.org/draft/2019-09/vocab/core\":true},\"$recursiveA"
	"nchor\":true,\"title\":\"Core vocabulary meta-schema\",\"type\":[\"obj"
	"ect\",\"boolean\"],\"properties\":{\"$id\":{\"type\":\"string\",\"form"
	"at\":\"uri-reference\",\"$comment\":\"Non-empty fragments not allowed."
	"\",\"pattern\":\"^[^#]*#?$\"},\"$schema\":{\"type\":\"string\",\"forma"
	"t\":\"uri\"},\"$anchor\":{\"type\":\"string\",\"pattern\":\"^[A-Za-z]["
	"-A-Za-z0-9.:_]*$\"},\"$ref\":{\"type\":\"string\",\"format\":\"uri-ref"
	"erence\"},\"$recursiveRef\":{\"type\":\"string\",\"format\":\"uri-refe"
	"rence\"},\"$recursiveAnchor\":{\"type\":\"boolean\",\"default\":false}"
	",\"$vocabulary\":{\"type\":\"object\",\"propertyNames\":{\"type\":\"st"
	"ring\",\"format\":\"uri\"},\"additionalProperties\":{\"type\":\"boolea"
	"n\"}},\"$comment\":{\"type\":\"string\"},\"$defs\":{\"type\":\"object\""
	",\"additionalProperties\":{\"$recursiveRef\":\"#\"},\"default\":{}}}}";

/* https://json-schema.org/draft/2019-09/meta/applicator */
static const char meta_14[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/meta/applicator\",\"$vocabular"
	"y\":{\"https://json-schema.org/draft/2019-09/vocab/applicator\":true},"
	"\"$recursiveAnchor\":true,\"title\":\"Applicator vocabulary meta-schem"
	"a\",\"type\":[\"object\",\"boolean\"],\"properties\":{\"additionalItem"
	"s\":{\"$recursiveRef\":\"#\"},\"unevaluatedItems\":{\"$recursiveRef\":"
	"\"#\"},\"items\":{\"anyOf\":[{\"$recursiveRef\":\"#\"},{\"$ref\":\"#/$"
	"defs/schemaArray\"}]},\"contains\":{\"$recursiveRef\":\"#\"},\"additio"
	"nalProperties\":{\"$recursiveRef\":\"#\"},\"unevaluatedProperties\":{\""
	"$recursiveRef\":\"#\"},\"properties\":{\"type\":\"object\",\"additiona"
	"lProperties\":{\"$recursiveRef\":\"#\"},\"default\":{}},\"patternPrope"
	"rties\":{\"type\":\"object\",\"additionalProperties\":{\"$recursiveRef"
	"\":\"#\"},\"propertyNames\":{\"format\":\"regex\"},\"default\":{}},\"d"
	"ependentSchemas\":{\"type\":\"object\",\"additionalProperties\":{\"$re"
	"cursiveRef\":\"#\"}},\"propertyNames\":{\"$recursiveRef\":\"#\"},\"if\""
	":{\"$recursiveRef\":\"#\"},\"then\":{\"$recursiveRef\":\"#\"},\"else\""
	":{\"$recursiveRef\":\"#\"},\"allOf\":{\"$ref\":\"#/$defs/schemaArray\""
	"},\"anyOf\":{\"$ref\":\"#/$defs/schemaArray\"},\"oneOf\":{\"$ref\":\"#"
	"/$defs/schemaArray\"},\"not\":{\"$recursiveRef\":\"#\"}},\"$defs\":{\""
	"schemaArray\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"$recursi"
	"veRef\":\"#\"}}}}";

/* https://json-schema.org/draft/2019-09/meta/validation */
static const char meta_15[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/meta/validation\",\"$vocabular"
	"y\":{\"https://json-schema.org/draft/2019-09/vocab/validation\":true},"
	"\"$recursiveAnchor\":true,\"title\":\"Validation vocabulary meta-schem"
	"a\",\"type\":[\"object\",\"boolean\"],\"properties\":{\"multipleOf\":{"
	"\"type\":\"number\",\"exclusiveMinimum\":0},\"maximum\":{\"type\":\"nu"
	"mber\"},\"exclusiveMaximum\":{\"type\":\"number\"},\"minimum\":{\"type"
	"\":\"number\"},\"exclusiveMinimum\":{\"type\":\"number\"},\"maxLength\""
	":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minLength\":{\"$ref\":\"#"
	"/$defs/nonNegativeIntegerDefault0\"},\"pattern\":{\"type\":\"string\","
	"\"format\":\"regex\"},\"maxItems\":{\"$ref\":\"#/$defs/nonNegativeInte"
	"ger\"},\"minItems\":{\"$ref\":\"#/$defs/nonNegativeIntegerDefault0\"},"
	"\"uniqueItems\":{\"type\":\"boolean\",\"default\":false},\"maxContains"
	"\":{\"$ref\":\"#/$defs/nonNegativeInteger\"},\"minContains\":{\"$ref\""
	":\"#/$defs/nonNegativeInteger\",\"default\":1},\"maxProperties\":{\"$r"
	"ef\":\"#/$defs/nonNegativeInteger\"},\"minProperties\":{\"$ref\":\"#/$"
	"defs/nonNegativeIntegerDefault0\"},\"required\":{\"$ref\":\"#/$defs/st"
	"ringArray\"},\"dependentRequired\":{\"type\":\"object\",\"additionalPr"
	"operties\":{\"$ref\":\"#/$defs/stringArray\"}},\"const\":true,\"enum\""
	":{\"type\":\"array\",\"items\":true},\"type\":{\"anyOf\":[{\"$ref\":\""
	"#/$defs/simpleTypes\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/$de"
	"fs/simpleTypes\"},\"minItems\":1,\"uniqueItems\":true}]}},\"$defs\":{\""
	"nonNegativeInteger\":{\"type\":\"integer\",\"minimum\":0},\"nonNegativ"
	"eIntegerDefault0\":{\"$ref\":\"#/$defs/nonNegativeInteger\",\"default\""
	":0},\"simpleTypes\":{\"enum\":[\"array\",\"boolean\",\"integer\",\"nul"
	"l\",\"number\",\"object\",\"string\"]},\"stringArray\":{\"type\":\"arr"
	"ay\",\"items\":{\"type\":\"string\"},\"uniqueItems\":true,\"default\":"
	"[]}}}";

/* https://json-schema.org/draft/2019-09/meta/meta-data */
static const char meta_16[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/meta/meta-data\",\"$vocabulary"
	"\":{\"https://json-schema.org/draft/2019-09/vocab/meta-data\":true},\""
	"$recursiveAnchor\":true,\"title\":\"Meta-data vocabulary meta-schema\""
	",\"type\":[\"object\",\"boolean\"],\"properties\":{\"title\":{\"type\""
	":\"string\"},\"description\":{\"type\":\"string\"},\"default\":true,\""
	"deprecated\":{\"type\":\"boolean\",\"default\":false},\"readOnly\":{\""
	"type\":\"boolean\",\"default\":false},\"writeOnly\":{\"type\":\"boolea"
	"n\",\"default\":false},\"examples\":{\"type\":\"array\",\"items\":true"
	"}}}";

/* https://json-schema.org/draft/2019-09/meta/format */
static const char meta_17[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/meta/format\",\"$vocabulary\":"
	"{\"https://json-schema.org/draft/2019-09/vocab/format\":true},\"$recur"
	"siveAnchor\":true,\"title\":\"Format vocabulary meta-schema\",\"type\""
	":[\"object\",\"boolean\"],\"properties\":{\"format\":{\"type\":\"strin"
	"g\"}}}";

/* https://json-schema.org/draft/2019-09/meta/content */
static const char meta_18[] =
	"{\"$schema\":\"https://json-schema.org/draft/2019-09/schema\",\"$id\":"
	"\"https://json-schema.org/draft/2019-09/meta/content\",\"$vocabulary\""
	":{\"https://json-schema.org/draft/2019-09/vocab/content\":true},\"$rec"
	"ursiveAnchor\":true,\"title\":\"Content vocabulary meta-schema\",\"typ"
	"e\":[\"object\",\"boolean\"],\"properties\":{\"contentMediaType\":{\"t"
	"ype\":\"string\"},\"contentEncoding\":{\"type\":\"string\"},\"contentS"
	"chema\":{\"$recursiveRef\":\"#\"}}}";

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
	{"http://json-schema.org/draft-06/schema", meta_10},
	{"http://json-schema.org/draft-04/schema", meta_11},
	{"https://json-schema.org/draft/2019-09/schema", meta_12},
	{"https://json-schema.org/draft/2019-09/meta/core", meta_13},
	{"https://json-schema.org/draft/2019-09/meta/applicator", meta_14},
	{"https://json-schema.org/draft/2019-09/meta/validation", meta_15},
	{"https://json-schema.org/draft/2019-09/meta/meta-data", meta_16},
	{"https://json-schema.org/draft/2019-09/meta/format", meta_17},
	{"https://json-schema.org/draft/2019-09/meta/content", meta_18},
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
