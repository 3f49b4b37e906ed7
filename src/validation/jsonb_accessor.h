/*
 * jsonb_accessor.h
 *	  The JSON Schema engine's view of binary jsonb (walked in place).
 */
#ifndef PREFACTOR_JSONB_ACCESSOR_H
#define PREFACTOR_JSONB_ACCESSOR_H

#include "postgres.h"

#include "utils/jsonb.h"

#include "jsonschema/jsonschema.h"

extern const js_accessor *jsonb_accessor(void);
extern js_node jsonb_root_node(Jsonb *jb);

#endif
