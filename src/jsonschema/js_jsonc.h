/*
 * js_jsonc.h - json-c implementation of the engine's js_accessor.
 * Node mapping: js_node.p = struct json_object * (NULL is JSON null).
 */
#ifndef PREFACTOR_JS_JSONC_H
#define PREFACTOR_JS_JSONC_H

#include "jsonschema.h"

struct json_object;

/* the accessor reading json-c documents */
const js_accessor *js_jsonc_accessor(void);
/* wrap a json-c object as a node */
js_node		js_jsonc_node(struct json_object *obj);

#endif							/* PREFACTOR_JS_JSONC_H */
