/*
 * jsonschema.h - public API of the prefactor JSON Schema engine.
 *
 * Pure C99 library (no PostgreSQL, no json-c in this header).  Supports
 * JSON Schema draft 2020-12 (default), 2019-09, draft-07, draft-06 and
 * draft-04, chosen per schema resource by "$schema".
 *
 * Usage:
 *   1. Describe your JSON representation with a js_accessor (a small vtable
 *      over opaque js_node handles).  A json-c implementation lives in
 *      js_jsonc.h / js_jsonc.c.
 *   2. Optionally fill a js_registry with documents that $ref may reach
 *      (URI -> document).  Nothing is ever fetched from the network.
 *   3. js_compile() a schema once; js_validate() many instances.
 *
 * Memory: every allocation goes through a js_allocator (default: libc).
 * The engine never calls abort()/exit() and never longjmps; every failure
 * is a return code plus a list of problems/errors.  A compiled schema owns
 * copies of everything it needs; the source documents may be freed after
 * js_compile() returns.  A compiled schema is read-only during validation
 * and may be shared by concurrent validations.
 */
#ifndef PREFACTOR_JSONSCHEMA_H
#define PREFACTOR_JSONSCHEMA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- return codes ---------------------------------------------------- */
#define JS_OK          0   /* success (for js_validate: see result->outcome) */
#define JS_EPROBLEMS  (-1) /* schema has problems; see the problems list */
#define JS_ENOMEM     (-2) /* allocator returned NULL */
#define JS_EINVAL     (-3) /* bad argument */

/* ---- allocator ------------------------------------------------------- */
typedef struct js_allocator
{
	void	   *(*malloc_fn) (void *ctx, size_t size);
	void	   *(*realloc_fn) (void *ctx, void *ptr, size_t size);
	void		(*free_fn) (void *ctx, void *ptr);
	void	   *ctx;
} js_allocator;

/* ---- accessor: how the engine reads a JSON document -------------------- */
typedef enum js_type
{
	JS_NULL = 0, JS_BOOL, JS_NUMBER, JS_STRING, JS_ARRAY, JS_OBJECT
} js_type;

/* Opaque node handle, passed by value.  Adapters choose the meaning, e.g.
 * json-c: p = struct json_object * (NULL = JSON null);
 * jsonb:  p = container, q = value/scalar pointer, i = index.            */
typedef struct js_node
{
	const void *p;
	const void *q;
	intptr_t	i;
} js_node;

/* Iterator state for object_next(); zero-initialise before the first call. */
typedef struct js_iter
{
	uintptr_t	state[2];
} js_iter;

/* All callbacks receive the accessor's ctx.  Strings are UTF-8, not
 * necessarily NUL-terminated, and must stay valid while the document does. */
typedef struct js_accessor
{
	void	   *ctx;
	js_type		(*type) (void *ctx, js_node n);
	int			(*boolean) (void *ctx, js_node n);
	/* value as double; *is_integer = 1 if the adapter knows it is integral */
	void		(*number) (void *ctx, js_node n, double *out, int *is_integer);
	/*
	 * optional (may be NULL, or return 0 for a node): the number's exact
	 * decimal text (JSON syntax).  The number keywords, const, enum and
	 * uniqueItems compare this text exactly; without it the double's
	 * shortest round-trip form stands in, so give it whenever the double
	 * may be inexact (big integers, decimals).
	 */
	int			(*number_text) (void *ctx, js_node n, const char **s, size_t *len);
	void		(*string) (void *ctx, js_node n, const char **s, size_t *len);
	size_t		(*array_size) (void *ctx, js_node n);
	/* element i (0 <= i < size); returns 1 on success */
	int			(*array_get) (void *ctx, js_node n, size_t i, js_node *out);
	size_t		(*object_size) (void *ctx, js_node n);
	/* member lookup; returns 1 if found */
	int			(*object_get) (void *ctx, js_node n, const char *key, size_t keylen,
							   js_node *out);
	/* next member in a stable order; returns 1 while a member is produced */
	int			(*object_next) (void *ctx, js_node n, js_iter *it,
								const char **key, size_t *keylen, js_node *out);
} js_accessor;

/* ---- registry of documents reachable by $ref ---------------------------- */
typedef struct js_registry js_registry;

/* create an empty registry (allocator may be NULL for libc) */
js_registry *js_registry_new(const js_allocator *allocator);
/* copy document 'doc' into the registry under absolute 'uri' (no fragment) */
int			js_registry_add(js_registry *reg, const char *uri,
							const js_accessor *acc, js_node doc);
/* free the registry and its documents */
void		js_registry_free(js_registry *reg);

/* ---- options ----------------------------------------------------------- */
#define JS_DRAFT_2020_12 2020
#define JS_DRAFT_7       7
#define JS_DRAFT_2019_09 2019
#define JS_DRAFT_6       6
#define JS_DRAFT_4       4

typedef struct js_options
{
	int			default_draft;		/* JS_DRAFT_2020_12 (default), JS_DRAFT_2019_09,
									 * JS_DRAFT_7, JS_DRAFT_6 or JS_DRAFT_4: the
									 * dialect of a schema without "$schema" */
	int			format_assertion;	/* 1: "format" asserts; 0 (default): annotation */
	size_t		max_errors;			/* errors collected per validation (100) */
	int			max_instance_depth; /* instance nesting limit (100000) */
	int			max_schema_depth;	/* schema nesting limit at compile (512) */
	int			max_eval_depth;		/* evaluation recursion limit (400000) */
	/*
	 * C stack the validator may use below js_validate()'s frame (2 MB); the
	 * real guard against deep documents, since each evaluation level costs a
	 * few hundred bytes.  stack_too_deep, when set, is asked as well (a host
	 * such as PostgreSQL knows how much of its stack is left); it must not
	 * longjmp.
	 */
	size_t		max_stack_bytes;
	int			(*stack_too_deep) (void *ctx);
	void	   *stack_ctx;
	uint32_t	regex_match_limit;	/* pcre2 match limit (1000000) */
	uint32_t	regex_depth_limit;	/* pcre2 depth limit (10000) */
	const js_registry *registry;	/* may be NULL */
	const js_allocator *allocator;	/* may be NULL for libc; copied */
} js_options;

/* fill 'opt' with the defaults listed above */
void		js_options_init(js_options *opt);

/* ---- schema problems (compile / check) ----------------------------------- */
typedef struct js_problem
{
	char	   *keyword_location;	/* JSON pointer into the schema ("" = root;
									 * other documents: "uri#/pointer") */
	char	   *message;
} js_problem;

typedef struct js_problems
{
	size_t		count;
	js_problem *items;
	void	   *priv_;				/* internal */
} js_problems;

void		js_problems_free(js_problems *p);

/* ---- compile ------------------------------------------------------------ */
typedef struct js_compiled js_compiled;

/*
 * Compile 'schema' (read through 'acc').  On success returns JS_OK and sets
 * *out.  On schema problems returns JS_EPROBLEMS, *out = NULL and, when
 * 'problems' is not NULL, *problems receives the list (free with
 * js_problems_free).  opt may be NULL for defaults.
 */
int			js_compile(const js_accessor *acc, js_node schema,
					   const js_options *opt, js_compiled **out,
					   js_problems **problems);

/* report the problems of a schema; *problems->count == 0 if none */
int			js_check(const js_accessor *acc, js_node schema,
					 const js_options *opt, js_problems **problems);

void		js_compiled_free(js_compiled *cs);

/* ---- validation ---------------------------------------------------------- */
typedef enum js_mode
{
	JS_MODE_VALID_ONLY = 0,		/* stop at first failure, collect nothing */
	JS_MODE_COLLECT = 1			/* collect up to max_errors errors */
} js_mode;

typedef struct js_error
{
	char	   *instance_location;	/* JSON pointer into the instance */
	char	   *keyword_location;	/* evaluation path, e.g. "/properties/a/type" */
	char	   *message;
} js_error;

/*
 * The verdict of a validation.  JS_LIMIT_REACHED means a limit stopped the
 * validation before it could decide: the instance is neither valid nor
 * invalid (js_result.limit says which limit; in JS_MODE_COLLECT the last
 * error says where).
 */
typedef enum js_outcome
{
	JS_INVALID = 0, JS_VALID = 1, JS_LIMIT_REACHED = 2
} js_outcome;

typedef enum js_limit
{
	JS_LIMIT_NONE = 0,
	JS_LIMIT_DEPTH,				/* instance nesting, evaluation depth or C stack */
	JS_LIMIT_LOOP,				/* $ref cycle that never consumes the instance */
	JS_LIMIT_REGEX,				/* pcre2 match or depth limit */
	JS_LIMIT_NUMBER				/* exact arithmetic too long (multipleOf) */
} js_limit;

typedef struct js_result
{
	js_outcome	outcome;
	js_limit	limit;				/* JS_LIMIT_NONE unless JS_LIMIT_REACHED */
	int			truncated;			/* more errors than max_errors */
	size_t		error_count;
	js_error   *errors;
	void	   *priv_;				/* internal */
} js_result;

/*
 * Validate 'instance' (read through 'acc') against 'cs'.  Returns JS_OK and
 * a result in *out (free with js_result_free), or JS_ENOMEM/JS_EINVAL.
 */
int			js_validate(const js_compiled *cs, const js_accessor *acc,
						js_node instance, js_mode mode, js_result **out);

/* fast check: JS_VALID, JS_INVALID, JS_LIMIT_REACHED, or <0 error code
 * (no errors are collected) */
int			js_is_valid(const js_compiled *cs, const js_accessor *acc,
						js_node instance);

void		js_result_free(js_result *r);

/* ---- helpers -------------------------------------------------------------- */
/* check a string against a named format (1 ok, 0 bad, -1 unknown format) */
int			js_format_check(const char *format, const char *s, size_t len);

#ifdef __cplusplus
}
#endif

#endif							/* PREFACTOR_JSONSCHEMA_H */
