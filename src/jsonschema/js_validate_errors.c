/*
 * js_validate_errors.c - error collection during validation: records with
 * instance and keyword locations, the max_errors cap, errors dropped inside
 * quiet subschemas, and limit errors that end the whole validation.
 */
#include "js_internal.h"

/* append an error record (respects the cap) */
static void add_error(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt, va_list ap) JS_PRINTF(4, 0);

static void
add_error(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt, va_list ap)
{
	js_result  *r = c->res;
	js_result_priv *rp = c->rp;
	js_buf		b;
	js_error   *e;

	if (r->error_count >= c->cs->max_errors)
	{
		r->truncated = 1;
		c->stop = 1;
		return;
	}
	if (r->error_count == rp->cap)
	{
		size_t		nc = rp->cap ? rp->cap * 2 : 8;
		js_error   *ne = js_arealloc(&rp->arena.al, r->errors, nc * sizeof(js_error));

		if (!ne)
		{
			c->oom = c->stop = 1;
			return;
		}
		r->errors = ne;
		rp->cap = nc;
	}
	e = &r->errors[r->error_count];
	js_buf_init(&b, &rp->arena.al);
	js_buf_pointer(&b, ip);
	e->instance_location = js_arena_strndup(&rp->arena, b.s ? b.s : "", b.len);
	b.len = 0;
	js_buf_pointer(&b, kp);
	e->keyword_location = js_arena_strndup(&rp->arena, b.s ? b.s : "", b.len);
	b.len = 0;
	js_buf_vprintf(&b, fmt, ap);
	e->message = js_arena_strndup(&rp->arena, b.s ? b.s : "", b.len);
	if (b.oom || !e->instance_location || !e->keyword_location || !e->message)
		c->oom = c->stop = 1;
	else
		r->error_count++;
	js_buf_free(&b);
	if (r->error_count >= c->cs->max_errors)
	{
		r->truncated = 1;
		c->stop = 1;
	}
}

/* record a validation error unless errors are being dropped */
void
js_report(js_vctx *c, const js_seg *ip, const js_seg *kp, const char *fmt,...)
{
	va_list		ap;

	if (!c->collect || c->quiet || c->stop)
		return;
	va_start(ap, fmt);
	add_error(c, ip, kp, fmt, ap);
	va_end(ap);
}

/* record a limit error: it ends the whole validation without a verdict */
void
js_limit_error(js_vctx *c, const js_seg *ip, const js_seg *kp, js_limit kind,
			   const char *fmt,...)
{
	va_list		ap;

	if (c->limit)
		return;
	c->limit = kind;
	if (c->collect)
	{
		c->stop = 0;
		va_start(ap, fmt);
		add_error(c, ip, kp, fmt, ap);
		va_end(ap);
	}
	c->stop = 1;
}
