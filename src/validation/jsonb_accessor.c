/*
 * jsonb_accessor.c
 *	  The JSON Schema engine's accessor over PostgreSQL's binary jsonb: the
 *	  engine walks a jsonb document in place, with no text round trip, no
 *	  copy into another JSON library and, on the common paths, no
 *	  allocation at all: nodes are read straight from the containers' JEntry
 *	  arrays instead of through JsonbValues and JsonbIterators.
 *
 *	  A node is either a container (p = JsonbContainer, q = NULL) or a
 *	  scalar (p = NULL, q = its data, i = its JEntry: type bits and length).
 *	  Only number_text allocates (palloc, in the current memory context,
 *	  which callers reset after each validation).
 */
#include "postgres.h"

#include <math.h>

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "validation/jsonb_accessor.h"

/*
 * The node of the child whose JEntry is je, with data at offset 'offset'
 * (getJsonbOffset, or a running sum while iterating) from base, the start
 * of its container's data.
 */
static inline js_node
entry_node(JEntry je, const char *base, uint32 offset)
{
	js_node		n = {NULL, NULL, 0};
	uint32		len = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) - offset : JBE_OFFLENFLD(je);

	/* numbers and containers are int-aligned within their slot, as fillJsonbValue reads them */
	if (JBE_ISCONTAINER(je))
		n.p = base + INTALIGN(offset);
	else
	{
		n.q = JBE_ISNUMERIC(je) ? base + INTALIGN(offset) : base + offset;
		n.i = (intptr_t) ((je & JENTRY_TYPEMASK) | len);
	}
	return n;
}

/* The node of child 'index' of container jc, whose data starts at offset 'offset'. */
static inline js_node
child_node(const JsonbContainer *jc, int index, uint32 offset)
{
	const char *base = (const char *) &jc->children[JsonContainerSize(jc) *
												 (JsonContainerIsObject(jc) ? 2 : 1)];

	return entry_node(jc->children[index], base, offset);
}

/*
 * Walks over arrays: the engine reads elements in order, and finding an
 * element's offset from scratch walks back up to JB_OFFSET_STRIDE JEntries,
 * so the offset after the last element read is kept for a few arrays (the
 * ones nested in each other).  Entries are keyed by the container's
 * address, which holds one content only while its document lives; every
 * document walk starts at jsonb_root_node, which forgets them all.
 */
#define WALK_SLOTS 4
typedef struct ArrayWalk
{
	const JsonbContainer *jc;
	uint32		next;			/* index after the last element read */
	uint32		offset;			/* offset of element 'next' */
} ArrayWalk;

static ArrayWalk walks[WALK_SLOTS];

static inline ArrayWalk *
walk_slot(const JsonbContainer *jc)
{
	return &walks[((uintptr_t) jc >> 4) % WALK_SLOTS];
}

/* The node of a whole jsonb document (a scalar root is its pseudo-array's element). */
js_node
jsonb_root_node(Jsonb *jb)
{
	js_node		n = {NULL, NULL, 0};

	memset(walks, 0, sizeof(walks));

	if (JB_ROOT_IS_SCALAR(jb))
		return child_node(&jb->root, 0, 0);
	n.p = &jb->root;
	return n;
}

/* JSON type of a node. */
static js_type
jb_type(void *ctx, js_node n)
{
	if (n.p)
		return JsonContainerIsArray((const JsonbContainer *) n.p) ? JS_ARRAY : JS_OBJECT;
	switch ((uint32) n.i & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			return JS_STRING;
		case JENTRY_ISNUMERIC:
			return JS_NUMBER;
		case JENTRY_ISBOOL_FALSE:
		case JENTRY_ISBOOL_TRUE:
			return JS_BOOL;
		default:
			return JS_NULL;
	}
}

/* Boolean value of a node. */
static int
jb_boolean(void *ctx, js_node n)
{
	return ((uint32) n.i & JENTRY_TYPEMASK) == JENTRY_ISBOOL_TRUE;
}

/* Numeric value of a node as a double (infinite when out of range). */
static void
jb_number(void *ctx, js_node n, double *out, int *is_integer)
{
	double		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
													   PointerGetDatum(n.q)));

	*out = d;
	*is_integer = isfinite(d) && floor(d) == d;
}

/*
 * Exact decimal text of a numeric node: the engine judges numbers on it
 * (1e400 is an integer, 0.3 a multiple of 0.1), never on a double.  The
 * digits are read from the numeric's stored form (see numeric.c: a short or
 * long header, then base-10000 digits), which is cheaper than numeric_out;
 * the text is "[-]DIGITSe<exponent>", which the engine parses exactly.
 */
static int
jb_number_text(void *ctx, js_node n, const char **s, size_t *len)
{
	const char *data = VARDATA_ANY(n.q);
	size_t		size = VARSIZE_ANY_EXHDR(n.q);
	uint16		header;
	int			weight;
	bool		neg;
	const int16 *digits;
	int			ndigits;
	char	   *buf,
			   *p;

	if (size < sizeof(uint16))
		return 0;
	memcpy(&header, data, sizeof(uint16));
	if ((header & 0xC000) == 0x8000)
	{
		/* short form: sign 0x2000, weight sign 0x0040, weight 0x003F */
		neg = (header & 0x2000) != 0;
		weight = (header & 0x0040) ? (int) (header & 0x003F) - 64 : (int) (header & 0x003F);
		digits = (const int16 *) (data + sizeof(uint16));
		ndigits = (int) ((size - sizeof(uint16)) / sizeof(int16));
	}
	else if ((header & 0xC000) == 0x0000 || (header & 0xC000) == 0x4000)
	{
		int16		w;

		if (size < 2 * sizeof(uint16))
			return 0;
		neg = (header & 0xC000) == 0x4000;
		memcpy(&w, data + sizeof(uint16), sizeof(int16));
		weight = w;
		digits = (const int16 *) (data + 2 * sizeof(uint16));
		ndigits = (int) ((size - 2 * sizeof(uint16)) / sizeof(int16));
	}
	else
		return 0;				/* NaN or infinity: never in jsonb */

	p = buf = palloc(ndigits * 4 + 24);
	if (neg && ndigits > 0)
		*p++ = '-';
	if (ndigits == 0)
		*p++ = '0';
	for (int k = 0; k < ndigits; k++)
	{
		int16		d;

		memcpy(&d, &digits[k], sizeof(int16));
		p[0] = '0' + d / 1000;
		p[1] = '0' + d / 100 % 10;
		p[2] = '0' + d / 10 % 10;
		p[3] = '0' + d % 10;
		p += 4;
	}
	if (ndigits > 0)
	{
		int			exp = (weight - ndigits + 1) * 4;

		*p++ = 'e';
		p += pg_ltoa(exp, p);
	}
	*s = buf;
	*len = p - buf;
	return 1;
}

/* String bytes of a node (in place, not NUL-terminated). */
static void
jb_string(void *ctx, js_node n, const char **s, size_t *len)
{
	*s = n.q;
	*len = (uint32) n.i & JENTRY_OFFLENMASK;
}

/* Number of elements of an array node. */
static size_t
jb_array_size(void *ctx, js_node n)
{
	return JsonContainerSize((const JsonbContainer *) n.p);
}

/* Element i of an array node. */
static int
jb_array_get(void *ctx, js_node n, size_t i, js_node *out)
{
	const JsonbContainer *jc = n.p;
	ArrayWalk  *w = walk_slot(jc);
	uint32		offset;
	JEntry		je;

	if (i >= JsonContainerSize(jc))
		return 0;
	offset = w->jc == jc && w->next == i ? w->offset : getJsonbOffset(jc, (int) i);
	je = jc->children[i];
	*out = entry_node(je, (const char *) &jc->children[JsonContainerSize(jc)], offset);
	JBE_ADVANCE_OFFSET(offset, je);
	w->jc = jc;
	w->next = (uint32) i + 1;
	w->offset = offset;
	return 1;
}

/* Number of members of an object node. */
static size_t
jb_object_size(void *ctx, js_node n)
{
	return JsonContainerSize((const JsonbContainer *) n.p);
}

/*
 * Member of an object node by key: a binary search over the keys, which
 * jsonb keeps sorted by length first, then bytes.
 */
static int
jb_object_get(void *ctx, js_node n, const char *key, size_t keylen, js_node *out)
{
	const JsonbContainer *jc = n.p;
	uint32		count = JsonContainerSize(jc);
	const char *base = (const char *) &jc->children[count * 2];
	uint32		lo = 0,
				hi = count;

	/*
	 * small objects: a scan with a running offset, stopping at the first
	 * longer key, is cheaper than the probes' offset walks
	 */
	if (count <= JB_OFFSET_STRIDE)
	{
		uint32		off = 0;

		for (uint32 i = 0; i < count; i++)
		{
			JEntry		je = jc->children[i];
			uint32		len = JBE_HAS_OFF(je) ? JBE_OFFLENFLD(je) - off : JBE_OFFLENFLD(je);

			if (len > keylen)
				return 0;
			if (len == keylen && memcmp(base + off, key, keylen) == 0)
			{
				*out = child_node(jc, (int) (i + count), getJsonbOffset(jc, (int) (i + count)));
				return 1;
			}
			off += len;
		}
		return 0;
	}
	while (lo < hi)
	{
		uint32		mid = lo + (hi - lo) / 2;
		uint32		off = getJsonbOffset(jc, (int) mid);
		uint32		len = getJsonbLength(jc, (int) mid);
		int			cmp = len != keylen ? (len < keylen ? -1 : 1) :
			memcmp(base + off, key, keylen);

		if (cmp == 0)
		{
			*out = child_node(jc, (int) (mid + count), getJsonbOffset(jc, (int) (mid + count)));
			return 1;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Next member of an object node, in jsonb's stored key order.  The
 * iterator keeps the index and the running offsets of the key and of the
 * value, so each step is constant work.
 */
static int
jb_object_next(void *ctx, js_node n, js_iter *it, const char **key, size_t *keylen,
			   js_node *out)
{
	const JsonbContainer *jc = n.p;
	uint32		count = JsonContainerSize(jc);
	const char *base = (const char *) &jc->children[count * 2];
	uint32		i = (uint32) it->state[0];
	uint32		koff = (uint32) it->state[1];
	uint32		voff;
	JEntry		ke,
				ve;

	if (i >= count)
		return 0;
#if SIZEOF_VOID_P >= 8
	voff = i == 0 ? getJsonbOffset(jc, (int) count) : (uint32) (it->state[1] >> 32);
#else
	voff = getJsonbOffset(jc, (int) (i + count));	/* no room for both offsets */
#endif
	ke = jc->children[i];
	ve = jc->children[i + count];
	*key = base + koff;
	*keylen = JBE_HAS_OFF(ke) ? JBE_OFFLENFLD(ke) - koff : JBE_OFFLENFLD(ke);
	*out = entry_node(ve, base, voff);
	JBE_ADVANCE_OFFSET(koff, ke);
	JBE_ADVANCE_OFFSET(voff, ve);
	it->state[0] = i + 1;
#if SIZEOF_VOID_P >= 8
	it->state[1] = ((uintptr_t) voff << 32) | koff;
#else
	it->state[1] = koff;
#endif
	return 1;
}

static const js_accessor jsonb_accessor_ops = {
	NULL, jb_type, jb_boolean, jb_number, jb_number_text, jb_string,
	jb_array_size, jb_array_get, jb_object_size, jb_object_get, jb_object_next
};

/* The accessor the engine uses for jsonb documents. */
const js_accessor *
jsonb_accessor(void)
{
	return &jsonb_accessor_ops;
}
