/*
 * js_internal.h - private declarations shared by the engine's files.
 */
#ifndef PREFACTOR_JS_INTERNAL_H
#define PREFACTOR_JS_INTERNAL_H

#include "jsonschema.h"
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>

/* ---------------- allocation (js_alloc.c) ---------------- */
extern const js_allocator js_libc_allocator;

typedef struct js_chunk
{
	struct js_chunk *next;
	size_t		size;
	size_t		used;
} js_chunk;

/* bump allocator with LIFO mark/release; chunks come from 'al' */
typedef struct js_arena
{
	js_allocator al;
	js_chunk   *first;
	js_chunk   *cur;
	int			oom;
} js_arena;

typedef struct js_mark
{
	js_chunk   *chunk;
	size_t		used;
} js_mark;

void	   *js_amalloc(const js_allocator *al, size_t n);
void	   *js_arealloc(const js_allocator *al, void *p, size_t n);
void		js_afree(const js_allocator *al, void *p);

void		js_arena_init(js_arena *a, const js_allocator *al);
void	   *js_arena_alloc(js_arena *a, size_t n);
void	   *js_arena_zalloc(js_arena *a, size_t n);
char	   *js_arena_strndup(js_arena *a, const char *s, size_t n);
js_mark		js_arena_mark(js_arena *a);
void		js_arena_release(js_arena *a, js_mark m);
void		js_arena_destroy(js_arena *a);

/* growable string buffer living in an allocator */
typedef struct js_buf
{
	const js_allocator *al;
	char	   *s;
	size_t		len;
	size_t		cap;
	int			oom;
} js_buf;

/* lets the compiler check the format strings of the printf-like helpers */
#if defined(__GNUC__)
#define JS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define JS_PRINTF(fmt, args)
#endif

void		js_buf_init(js_buf *b, const js_allocator *al);
void		js_buf_add(js_buf *b, const char *s, size_t n);
void		js_buf_adds(js_buf *b, const char *s);
void		js_buf_printf(js_buf *b, const char *fmt,...) JS_PRINTF(2, 3);
void		js_buf_vprintf(js_buf *b, const char *fmt, va_list ap) JS_PRINTF(2, 0);
void		js_buf_free(js_buf *b);

/* path segment, a linked list on the C stack; s == NULL means index idx */
typedef struct js_seg
{
	const struct js_seg *up;
	const char *s;
	size_t		len;
	size_t		idx;
} js_seg;

/* append the JSON pointer for 'seg' (root first, ~0/~1 escaped) to b */
void		js_buf_pointer(js_buf *b, const js_seg *seg);

/* simple open-addressing hash map, keys are byte strings owned by caller */
typedef struct js_hent
{
	const void *key;
	size_t		klen;
	uint64_t	hash;
	void	   *val;
} js_hent;

typedef struct js_hmap
{
	const js_allocator *al;
	js_hent    *tab;
	size_t		cap;
	size_t		n;
} js_hmap;

void		js_hmap_init(js_hmap *m, const js_allocator *al);
int			js_hmap_put(js_hmap *m, const void *key, size_t klen, void *val);
void	   *js_hmap_get(const js_hmap *m, const void *key, size_t klen);
void		js_hmap_free(js_hmap *m);
uint64_t	js_hash_bytes(const void *p, size_t n, uint64_t h);

/* ---------------- values (js_value.c) ---------------- */
typedef struct js_val js_val;

typedef struct js_member
{
	const char *key;
	size_t		klen;
	js_val	   *val;
} js_member;

struct js_val
{
	uint8_t		type;			/* js_type */
	uint8_t		is_int;
	size_t		n;				/* string length / array size / members */
	union
	{
		int			b;
		double		num;
		const char *str;
		js_val	  **items;
		js_member  *members;
	}			u;
	uint32_t   *sorted;			/* objects with many members: sorted index */
	void	   *compiled;		/* js_schema compiled from this node */
	const char *numtext;		/* exact number text, may be NULL */
	size_t		numtext_len;
};

extern const js_accessor js_val_accessor;

/* node handle for an internal value */
js_node		js_val_node(const js_val *v);
/* deep-copy a document read through acc into arena; NULL on error */
js_val	   *js_val_copy(js_arena *a, const js_accessor *acc, js_node n,
						int max_depth, const char **err);
/* parse JSON text into arena values; NULL on error */
js_val	   *js_val_parse(js_arena *a, const char *text, size_t len, int max_depth);
/* look up a member of an internal object */
js_val	   *js_val_get(const js_val *obj, const char *key, size_t klen);
/*
 * C stack guard for the recursive walks: 'base' is an address in the
 * outermost frame, 'max' the bytes that may be used below it, too_deep an
 * optional host check.  The stack grows down on every supported platform;
 * the distance is taken either way, as PostgreSQL's check_stack_depth does.
 */
typedef struct js_stack
{
	uintptr_t	base;
	size_t		max;
	int			(*too_deep) (void *ctx);
	void	   *ctx;
} js_stack;

/* true when the stack below st->base is used up (st NULL: never) */
static inline int
js_stack_over(const js_stack *st)
{
	char		here;
	uintptr_t	h = (uintptr_t) &here;

	if (!st)
		return 0;
	if ((st->base > h ? st->base - h : h - st->base) > st->max)
		return 1;
	return st->too_deep && st->too_deep(st->ctx);
}

/*
 * memcmp for the short strings of property names and enum values: an
 * inline loop is cheaper than the call up to a few words
 */
static inline int
js_short_cmp(const char *a, const char *b, size_t n)
{
	if (n > 16)
		return memcmp(a, b, n);
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (unsigned char) a[i] < (unsigned char) b[i] ? -1 : 1;
	return 0;
}

/* JSON equality of two nodes (numbers exactly); -1 if too deep */
int			js_equal(const js_accessor *aa, js_node a, const js_accessor *ab,
					 js_node b, int depth, const js_stack *st);
/* hash consistent with js_equal (stops descending when the stack is short) */
uint64_t	js_value_hash(const js_accessor *acc, js_node n, int depth, const js_stack *st);

/* ---------------- exact decimal numbers (js_decimal.c) ---------------- */
/*
 * A number as decimal digits: value = (neg ? -1 : 1) * 0.D * 10^point, where
 * D is a[0..alen) followed by b[0..blen) with no leading or trailing zeros
 * (zero: no digits).  The runs point into the number's text.
 */
typedef struct js_dec
{
	const char *a;
	size_t		alen;
	const char *b;
	size_t		blen;
	int64_t		point;
	int			neg;
} js_dec;

/* a number read from a node, with room for text made from a double */
typedef struct js_num
{
	js_dec		d;
	char		buf[48];
} js_num;

int			js_dec_parse(const char *s, size_t len, js_dec *d);
void		js_dec_from_double(double x, char *buf, size_t size, js_dec *d);
void		js_num_read(const js_accessor *acc, js_node n, js_num *out);
int			js_dec_is_int(const js_dec *d);
int			js_dec_cmp(const js_dec *x, const js_dec *y);
uint64_t	js_dec_hash(const js_dec *d, uint64_t h);
/* 1 x is a multiple of m, 0 not, -1 too much work, -2 out of memory */
int			js_dec_multiple(const js_dec *x, const js_dec *m, js_arena *scratch);
void		js_dec_format(const js_dec *d, char *buf, size_t size);

/* ---------------- URIs and pointers (js_uri.c) ---------------- */
/* resolve reference 'ref' against 'base' (RFC 3986); arena string */
char	   *js_uri_resolve(js_arena *a, const char *base, const char *ref, size_t reflen);
/* split off the fragment: returns length of the part before '#' */
size_t		js_uri_split(const char *uri, const char **frag);
/* percent-decode into arena string */
char	   *js_pct_decode(js_arena *a, const char *s, size_t n, size_t *outlen);
/* follow a JSON pointer (already percent-decoded) inside v; NULL if absent */
const js_val *js_pointer_get(const js_val *v, const char *ptr, size_t len);

/* ---------------- regexes (js_regex.c) ---------------- */
typedef struct js_regex js_regex;
typedef struct js_regex_env js_regex_env;

js_regex_env *js_regex_env_new(const js_allocator *al, uint32_t match_limit,
							   uint32_t depth_limit);
void		js_regex_env_free(js_regex_env *env);
/* compile an ECMA-262-ish pattern; NULL + message in err on failure */
js_regex   *js_regex_compile(js_regex_env *env, const char *pat, size_t len,
							 char *err, size_t errlen);
void		js_regex_destroy(js_regex_env *env, js_regex *re);
/* 1 match, 0 no match, -1 limit hit or matching error */
int			js_regex_match(js_regex_env *env, void *mdata, const js_regex *re,
						   const char *s, size_t len);
void	   *js_regex_mdata_new(js_regex_env *env);
void		js_regex_mdata_free(void *md);
/* 1 if pattern compiles (env NULL: libc allocator) */
int			js_regex_valid(js_regex_env *env, const char *pat, size_t len);

/* ---------------- formats (js_format.c) ---------------- */
typedef int (*js_format_fn) (const char *s, size_t len, js_regex_env *env);
/* look up a format checker by name (NULL if unknown) */
js_format_fn js_format_lookup(const char *name, size_t len);
/* the same for a schema of internal draft 'draft' (JS_D4 ..) */
js_format_fn js_format_lookup_draft(const char *name, size_t len, int draft);
/* js_format_idn.c: host name under IDNA2008 (idn 1: U-labels, 2: NFC-normalised U-labels); 1 ok */
int			js_hostname_valid(const char *s, size_t n, int idn);

/* ---------------- compiled schema ---------------- */
#define JS_SK_TRUE  0
#define JS_SK_FALSE 1
#define JS_SK_OBJ   2

/* type bits */
#define JS_T_NULL    (1u << 0)
#define JS_T_BOOL    (1u << 1)
#define JS_T_NUMBER  (1u << 2)
#define JS_T_STRING  (1u << 3)
#define JS_T_ARRAY   (1u << 4)
#define JS_T_OBJECT  (1u << 5)
#define JS_T_INTEGER (1u << 6)

/* presence flags */
#define JS_F_TYPE      (1u << 0)
#define JS_F_CONST     (1u << 1)
#define JS_F_ENUM      (1u << 2)
#define JS_F_MIN       (1u << 3)
#define JS_F_MAX       (1u << 4)
#define JS_F_XMIN      (1u << 5)
#define JS_F_XMAX      (1u << 6)
#define JS_F_MULT      (1u << 7)
#define JS_F_MINLEN    (1u << 8)
#define JS_F_MAXLEN    (1u << 9)
#define JS_F_MINITEMS  (1u << 10)
#define JS_F_MAXITEMS  (1u << 11)
#define JS_F_UNIQUE    (1u << 12)
#define JS_F_MINCONT   (1u << 13)
#define JS_F_MAXCONT   (1u << 14)
#define JS_F_MINPROPS  (1u << 15)
#define JS_F_MAXPROPS  (1u << 16)
#define JS_F_FORMAT    (1u << 17)
#define JS_F_UNEVAL    (1u << 18)	/* has unevaluatedItems/Properties */
#define JS_F_NUMKW     (JS_F_MIN | JS_F_MAX | JS_F_XMIN | JS_F_XMAX | JS_F_MULT)
/* the keywords js_eval_scalar_kw looks at (besides pattern) */
#define JS_F_SCALAR    (JS_F_TYPE | JS_F_CONST | JS_F_ENUM | JS_F_NUMKW | JS_F_MINLEN | \
						JS_F_MAXLEN | JS_F_FORMAT)

typedef struct js_schema js_schema;
typedef struct js_resource js_resource;

typedef struct js_named
{
	const char *name;
	size_t		len;
	js_schema  *s;
} js_named;

typedef struct js_strlist
{
	const char **s;
	size_t	   *len;
	size_t		n;
} js_strlist;

typedef struct js_depreq
{
	const char *name;
	size_t		len;
	js_strlist	req;
} js_depreq;

typedef struct js_patprop
{
	js_regex   *re;
	const char *src;
	size_t		srclen;
	js_schema  *s;
} js_patprop;

struct js_resource
{
	const char *uri;
	js_named   *dyn;			/* $dynamicAnchor name -> schema */
	size_t		ndyn;
	size_t		capdyn;
};

struct js_schema
{
	uint8_t		kind;
	uint8_t		draft;			/* JS_D4 .. JS_D20 */
	uint8_t		dyn_dynamic;	/* $dynamicRef target is a $dynamicAnchor */
	uint8_t		format_assert;
	uint8_t		ref_only;		/* $ref and no other keyword: js_eval follows it in place */
	uint8_t		noop;			/* no keyword that validates: passes every instance */
	uint8_t		leaf;			/* only keywords of js_eval_scalar_kw (type, enum, ...) */
	uint32_t	flags;
	js_resource *res;
	/* core */
	js_schema  *ref;
	js_schema  *dynref;
	const char *dyn_name;
	size_t		dyn_name_len;
	/* validation */
	unsigned	types;
	const js_val *const_v;
	const js_val **enum_v;
	size_t		nenum;
	js_dec		minimum, maximum, xminimum, xmaximum, multiple_of;
	size_t		min_length, max_length, min_items, max_items;
	size_t		min_contains, max_contains, min_props, max_props;
	js_regex   *pattern;
	const char *pattern_src;
	js_format_fn format;
	const char *format_name;
	js_strlist	required;
	js_strlist	required_sorted;	/* by (len, bytes); n == 0 when fewer than two */
	js_depreq  *dep_req;
	size_t		n_dep_req;
	/* applicators */
	js_schema **all_of, **any_of, **one_of;
	size_t		n_all, n_any, n_one;
	js_schema  *not_, *if_, *then_, *else_;
	js_schema **prefix;
	size_t		n_prefix;
	js_schema  *items;			/* items beyond prefix (2020 items / 7 additionalItems) */
	const char *items_kw;		/* keyword name used for 'items' */
	const char *prefix_kw;		/* "prefixItems" or "items" */
	js_schema  *contains;
	js_named   *props;			/* sorted by (len, bytes) */
	size_t		n_props;
	js_patprop *pprops;
	size_t		n_pprops;
	js_schema  *addl_props, *prop_names, *uneval_props, *uneval_items;
	js_named   *dep_schemas;
	size_t		n_dep_schemas;
	const char *dep_kw;			/* "dependentSchemas" or "dependencies" */
	const char *depreq_kw;		/* "dependentRequired" or "dependencies" */
};

struct js_compiled
{
	js_arena	arena;
	js_allocator al;
	js_regex_env *renv;
	js_schema  *root;
	js_regex  **regexes;
	size_t		nregex;
	size_t		capregex;
	size_t		max_errors;
	int			max_instance_depth;
	int			max_eval_depth;
	size_t		max_stack_bytes;
	int			(*stack_too_deep) (void *ctx);
	void	   *stack_ctx;
};

/* js_ref.c: registry and embedded meta-schemas */
const js_val *js_registry_lookup(const js_registry *reg, const char *uri, size_t len);
const char *js_metaschema_text(const char *uri, size_t len);

/* ---------------- schema compiler (js_compile*.c) ---------------- */
/* vocabulary bits */
#define JS_VOC_CORE    (1u << 0)
#define JS_VOC_APPL    (1u << 1)
#define JS_VOC_UNEV    (1u << 2)
#define JS_VOC_VALID   (1u << 3)
#define JS_VOC_META    (1u << 4)
#define JS_VOC_FMT     (1u << 5)
#define JS_VOC_FMTA    (1u << 6)
#define JS_VOC_CONTENT (1u << 7)
#define JS_VOC_ALL     (JS_VOC_CORE | JS_VOC_APPL | JS_VOC_UNEV | JS_VOC_VALID | JS_VOC_META | JS_VOC_FMT | JS_VOC_CONTENT)

/* js_schema.draft / js_scope.draft (ordered: later drafts compare greater) */
#define JS_D4  4
#define JS_D6  6
#define JS_D7  7
#define JS_D19 19
#define JS_D20 20
/* drafts up to 7: "$ref" replaces its siblings, "definitions", "#name" ids */
#define JS_DRAFT_OLD(d) ((d) <= JS_D7)

/* problem list behind js_problems */
typedef struct js_plist
{
	js_arena	arena;
	js_problem *items;
	size_t		n;
	size_t		cap;
} js_plist;

/* lexical context of a schema node */
typedef struct js_scope
{
	const char *base;			/* absolute base URI, no fragment */
	js_resource *res;
	int			draft;
	unsigned	vocab;
	const char *prefix;			/* problem location prefix ("" or "uri#") */
} js_scope;

/* a $ref / $dynamicRef to resolve after the walk */
typedef struct js_pending
{
	js_schema **slot;
	js_schema  *owner;
	const char *uri;
	const char *loc;
	int			dynamic;		/* JS_REF_* */
	int			draft;
} js_pending;

/* js_pending.dynamic: which keyword made the reference */
#define JS_REF_STATIC    0		/* $ref */
#define JS_REF_DYNAMIC   1		/* $dynamicRef (2020-12) */
#define JS_REF_RECURSIVE 2		/* $recursiveRef (2019-09) */

/* compiler state for one js_compile() call */
typedef struct js_cctx
{
	js_compiled *cs;
	js_arena   *a;
	const js_options *opt;
	js_plist   *pl;
	js_hmap		resources;		/* uri -> res_entry */
	js_hmap		anchors;		/* uri#name -> anchor_entry */
	js_pending *pend;
	size_t		npend;
	size_t		cappend;
	int			oom;
} js_cctx;

/*
 * JS_KW("name"): true if object schema v has keyword "name"; sets kv to its
 * value and points seg (a js_seg under the schema's path) at the keyword.
 */
#define JS_KW(name) (kv = js_val_get(v, name, sizeof(name) - 1)) != NULL && \
	(seg.s = name, seg.len = sizeof(name) - 1, 1)

/* js_compile_problems.c */
js_plist   *js_plist_new(const js_allocator *al);
void		js_plist_free(js_plist *pl);
js_problems *js_plist_publish(js_plist *pl);
/* record a schema problem at sc->prefix + path */
void		js_schema_problem(js_cctx *cc, const js_scope *sc, const js_seg *path,
							  const char *fmt,...) JS_PRINTF(4, 5);

/* js_compile.c: the walk over schema nodes; js_sub* compile child schemas */
js_schema  *js_compile_schema(js_cctx *cc, const js_val *v, js_scope sc, int docroot,
							  const js_seg *path, int depth);
js_schema  *js_sub(js_cctx *cc, const js_val *v, const js_scope *sc,
				   const js_seg *path, int depth);
void		js_sub_array(js_cctx *cc, const js_val *v, const js_scope *sc,
						 const js_seg *path, int depth, js_schema ***out, size_t *n);
js_named   *js_sub_object(js_cctx *cc, const js_val *v, const js_scope *sc,
						  const js_seg *path, int depth, size_t *n, int sort);

/* js_compile_applicators.c */
void		js_compile_applicators(js_cctx *cc, js_schema *s, const js_val *v,
								   const js_scope *sc, const js_seg *path, int depth);

/* js_compile_assertions.c */
void		js_compile_validation(js_cctx *cc, js_schema *s, const js_val *v,
								  const js_scope *sc, const js_seg *path);
/* keyword-value readers, also used by the applicators */
int			js_get_strlist(js_cctx *cc, const js_val *v, const js_scope *sc,
						   const js_seg *path, js_strlist *out);
/* compile a regex owned by the compiled schema */
js_regex   *js_schema_regex(js_cctx *cc, const char *pat, size_t len,
							const js_scope *sc, const js_seg *path);

/* js_compile_dialect.c */
/* true if s[0..n) equals the NUL-terminated string lit */
int			js_streq(const char *s, size_t n, const char *lit);
/* internal draft for a js_options.default_draft value (JS_D20 if unknown) */
int			js_draft_from_option(int opt_draft);
void		js_set_dialect(js_cctx *cc, js_scope *sc, const js_val *sv,
						   const js_seg *path);

/* js_compile_refs.c */
js_resource *js_new_resource(js_cctx *cc, const char *uri);
void		js_register_resource(js_cctx *cc, const char *uri, const js_val *v,
								 const js_scope *sc);
void		js_compile_ids(js_cctx *cc, js_schema *s, const js_val *v, js_scope *sc,
						   const js_seg *path, int docroot);
void		js_compile_ref(js_cctx *cc, js_schema *s, const js_val *v,
						   const js_scope *sc, const js_seg *path, int dynamic);
/* resolve a pending reference after the walk (NULL: unresolvable) */
js_schema  *js_resolve(js_cctx *cc, const js_pending *p, int *is_dynamic_anchor);

/* ---------------- validator (js_validate*.c) ---------------- */
/* evaluated-location annotations for one array/object instance */
typedef struct js_ann
{
	uint8_t    *bits;			/* evaluated indices / member positions */
	size_t		n;
	int			all;			/* every item/member evaluated */
} js_ann;

/* dynamic scope: resources entered along the evaluation path */
typedef struct js_dscope
{
	const struct js_dscope *up;
	const js_resource *res;
} js_dscope;

/* active references, for loop detection */
typedef struct js_rframe
{
	const struct js_rframe *up;
	const js_schema *target;
	size_t		idepth;
} js_rframe;

/* keep big helper frames off the recursive path (smaller eval frames) */
#if defined(__GNUC__)
#define JS_NOINLINE __attribute__((noinline))
#else
#define JS_NOINLINE
#endif

/* error list behind js_result */
typedef struct js_result_priv
{
	js_arena	arena;
	size_t		cap;
} js_result_priv;

/* validator state for one js_validate() / js_is_valid() call */
typedef struct js_vctx
{
	const js_compiled *cs;
	const js_accessor *acc;
	js_arena	scratch;
	void	   *mdata;
	int			collect;		/* collecting errors at all */
	int			quiet;			/* >0: inside a subschema whose errors are dropped */
	int			stop;			/* stop evaluating (cap reached or limit hit) */
	js_limit	limit;			/* the limit that stopped validation, if any */
	js_stack	stack;			/* C stack budget of this validation */
	int			oom;
	js_result  *res;
	js_result_priv *rp;
	const js_dscope *dyn;
	const js_rframe *refs;
} js_vctx;

/*
 * In a keyword evaluator (locals c, valid, kp): JS_FAIL() marks the instance
 * invalid and returns 0 at once when errors are not being collected;
 * JS_KSEG("kw", k) declares the js_seg k for keyword "kw" under kp.
 */
#define JS_FAIL() do { valid = 0; if (c->quiet || c->stop) return 0; } while (0)
#define JS_KSEG(name, var) js_seg var = {kp, name, sizeof(name) - 1, 0}

/* js_validate.c: evaluate instance 'in' against schema s; 1 valid, 0 invalid */
int			js_eval(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
					const js_seg *ip, const js_seg *kp, js_ann *out, int depth);
/* same with errors dropped; 0 also when evaluation stopped */
int			js_eval_quiet(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
						  const js_seg *ip, const js_seg *kp, js_ann *out, int depth);

/* js_validate_errors.c */
void		js_report(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt,...) JS_PRINTF(4, 5);
void		js_limit_error(js_vctx *c, const js_seg *ip, const js_seg *kp, js_limit kind,
						   const char *fmt,...) JS_PRINTF(5, 6);


/* js_validate_scalar.c: type, const, enum, number and string keywords */
JS_NOINLINE int js_eval_scalar_kw(js_vctx *c, const js_schema *s, js_node in, js_type t,
								  const js_seg *ip, const js_seg *kp);

/* js_validate_array.c: js_eval_items does prefixItems/items, js_eval_array the rest */
JS_NOINLINE int js_eval_items(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
							  const js_seg *ip, const js_seg *kp, js_ann *a, int depth);
JS_NOINLINE int js_eval_array(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
							  const js_seg *ip, const js_seg *kp, js_ann *a, int depth);

/* js_validate_object.c: js_eval_members does the member keywords, js_eval_object the rest */
JS_NOINLINE int js_eval_members(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
								const js_seg *ip, const js_seg *kp, js_ann *a, int depth);
JS_NOINLINE int js_eval_object(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
							   const js_seg *ip, const js_seg *kp, js_ann *a, int depth);

/* js_validate_logic.c: allOf, anyOf, oneOf, not, if/then/else */
JS_NOINLINE int js_eval_logic(js_vctx *c, const js_schema *s, js_node in, js_type t,
							  size_t idepth, const js_seg *ip, const js_seg *kp,
							  js_ann *a, int depth);

/*
 * js_eval for a child schema: a leaf (type, enum, pattern, ... and nothing
 * that recurses or annotates) is checked straight away, without js_eval's
 * frame, scope and limit bookkeeping; the instance depth limit still holds.
 */
JS_NOINLINE int js_eval_leaf(js_vctx *c, const js_schema *s, js_node in,
							 const js_seg *ip, const js_seg *kp);

static inline int
js_eval_child(js_vctx *c, const js_schema *s, js_node in, size_t idepth,
			  const js_seg *ip, const js_seg *kp, js_ann *out, int depth)
{
	if (s && s->leaf && !c->stop && idepth <= (size_t) c->cs->max_instance_depth)
		return js_eval_leaf(c, s, in, ip, kp);
	return js_eval(c, s, in, idepth, ip, kp, out, depth);
}

/* js_validate_uneval.c: annotation sets and unevaluatedItems/Properties */
int			js_ann_init(js_vctx *c, js_ann *a, js_type t, js_node n);
void		js_ann_merge(js_ann *dst, const js_ann *src);
JS_NOINLINE int js_eval_unevaluated(js_vctx *c, const js_schema *s, js_node in, js_type t,
									size_t idepth, const js_seg *ip, const js_seg *kp,
									js_ann *a, int depth);

/* mark position i as evaluated */
static inline void
js_ann_set(js_ann *a, size_t i)
{
	if (a && a->bits && i < a->n)
		a->bits[i / 8] |= (uint8_t) (1u << (i % 8));
}

/* was position i evaluated? */
static inline int
js_ann_get(const js_ann *a, size_t i)
{
	return a->all || (a->bits && i < a->n && (a->bits[i / 8] & (1u << (i % 8))));
}

#endif							/* PREFACTOR_JS_INTERNAL_H */
