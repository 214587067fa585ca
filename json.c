/*
 * json.c: JSON helpers over yajl.
 *
 * json_compact() re-emits a JSON text through yajl_gen: the result is
 * valid, single-line JSON with numbers passed through byte for byte, and
 * it can pick values out by path on the way.  json_str() appends a
 * string literal.  Records are assembled from such fragments, so every
 * byte of output is either produced by yajl_gen or escaped here.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "vmanjl.h"

#define JC_MAXDEPTH 120	/* below yajl_gen's own limit of 128 */

static int utf8_seq(const unsigned char *, size_t, size_t *);

struct frame {
	size_t base;		/* path length at the container's start */
	long index;		/* element number, -1 in a map */
};

struct jc {
	yajl_gen g;
	struct jpick *picks;
	size_t npicks;
	int depth[JSON_MAXPICK];	/* capture depth, -1 when idle */
	yajl_gen pg[JSON_MAXPICK];
	struct buf path;
	struct buf tmp;		/* a string made valid UTF-8 */
	struct frame fr[JC_MAXDEPTH];
	int nfr;
	int toodeep;
};

/* Called before every value: advance the array index in the path, then
 * start a capture for each pick whose path is the current one. */
static void
jc_value(struct jc *c)
{
	struct frame *f;
	char num[32];
	size_t i;

	if (c->nfr > 0 && (f = &c->fr[c->nfr - 1])->index >= 0) {
		c->path.len = f->base;
		snprintf(num, sizeof num, "%s%ld", f->base ? "." : "",
		    f->index++);
		buf_puts(&c->path, num);
	}
	for (i = 0; i < c->npicks; i++) {
		if (c->depth[i] >= 0 || c->picks[i].val.len)
			continue;
		if (c->path.len == strlen(c->picks[i].path) &&
		    memcmp(c->path.p, c->picks[i].path, c->path.len) == 0) {
			c->depth[i] = 0;
			yajl_gen_clear(c->pg[i]);
			yajl_gen_reset(c->pg[i], NULL);
		}
	}
}

/* After a scalar or a container's end: close the captures that end. */
static void
jc_done(struct jc *c, int close)
{
	const unsigned char *p;
	size_t i, n;

	for (i = 0; i < c->npicks; i++) {
		if (c->depth[i] < 0)
			continue;
		c->depth[i] -= close;
		if (c->depth[i] == 0) {
			yajl_gen_get_buf(c->pg[i], &p, &n);
			buf_put(&c->picks[i].val, p, n);
			c->depth[i] = -1;
		}
	}
}

static void
jc_open(struct jc *c, int array)
{
	size_t i;

	for (i = 0; i < c->npicks; i++)
		if (c->depth[i] >= 0)
			c->depth[i]++;
	if (c->nfr == JC_MAXDEPTH) {
		c->toodeep = 1;
		return;
	}
	c->fr[c->nfr].base = c->path.len;
	c->fr[c->nfr].index = array ? 0 : -1;
	c->nfr++;
}

static void
jc_close(struct jc *c)
{
	c->nfr--;
	c->path.len = c->fr[c->nfr].base;
	jc_done(c, 1);
}

#define EACH_GEN(c, call) do {						\
	size_t i_;							\
	call((c)->g);							\
	for (i_ = 0; i_ < (c)->npicks; i_++)				\
		if ((c)->depth[i_] >= 0)				\
			call((c)->pg[i_]);				\
} while (0)

static int
cb_null(void *ctx)
{
	struct jc *c = ctx;

	jc_value(c);
#define G(g) yajl_gen_null(g)
	EACH_GEN(c, G);
#undef G
	jc_done(c, 0);
	return 1;
}

static int
cb_bool(void *ctx, int v)
{
	struct jc *c = ctx;

	jc_value(c);
#define G(g) yajl_gen_bool(g, v)
	EACH_GEN(c, G);
#undef G
	jc_done(c, 0);
	return 1;
}

static int
cb_number(void *ctx, const char *s, size_t n)
{
	struct jc *c = ctx;

	jc_value(c);
#define G(g) yajl_gen_number(g, s, n)
	EACH_GEN(c, G);
#undef G
	jc_done(c, 0);
	return 1;
}

static int
cb_string(void *ctx, const unsigned char *s, size_t n)
{
	struct jc *c = ctx;

	s = json_utf8_clean(s, &n, &c->tmp);
	jc_value(c);
#define G(g) yajl_gen_string(g, s, n)
	EACH_GEN(c, G);
#undef G
	jc_done(c, 0);
	return 1;
}

static int
cb_start_map(void *ctx)
{
	struct jc *c = ctx;

	jc_value(c);
#define G(g) yajl_gen_map_open(g)
	EACH_GEN(c, G);
#undef G
	jc_open(c, 0);
	return !c->toodeep;
}

static int
cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
	struct jc *c = ctx;
	size_t base = c->fr[c->nfr - 1].base;

	k = json_utf8_clean(k, &n, &c->tmp);
	c->path.len = base;
	if (base)
		buf_putc(&c->path, '.');
	buf_put(&c->path, k, n);
#define G(g) yajl_gen_string(g, k, n)
	EACH_GEN(c, G);
#undef G
	return 1;
}

static int
cb_end_map(void *ctx)
{
	struct jc *c = ctx;

#define G(g) yajl_gen_map_close(g)
	EACH_GEN(c, G);
#undef G
	jc_close(c);
	return 1;
}

static int
cb_start_array(void *ctx)
{
	struct jc *c = ctx;

	jc_value(c);
#define G(g) yajl_gen_array_open(g)
	EACH_GEN(c, G);
#undef G
	jc_open(c, 1);
	return !c->toodeep;
}

static int
cb_end_array(void *ctx)
{
	struct jc *c = ctx;

#define G(g) yajl_gen_array_close(g)
	EACH_GEN(c, G);
#undef G
	jc_close(c);
	return 1;
}

static const yajl_callbacks jc_callbacks = {
	cb_null, cb_bool, NULL, NULL, cb_number, cb_string,
	cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array
};

/* Describe why yajl stopped on the text p[0..n), with the 1-based column
 * of the fault: where yajl_parse() stopped, or the end of the text when
 * it was yajl_complete_parse() that failed (eof). */
void
json_error(yajl_handle h, const char *p, size_t n, int eof, const char *what,
    struct buf *msg)
{
	unsigned char *e;
	char pre[64];
	size_t at, len;

	at = eof ? n : yajl_get_bytes_consumed(h);
	e = yajl_get_error(h, 0, (const unsigned char *)p, n);
	snprintf(pre, sizeof pre, " at column %zu: ", at + 1);
	buf_reset(msg);
	buf_puts(msg, what);
	buf_puts(msg, pre);
	len = strlen((char *)e);
	while (len && (e[len - 1] == '\n' || e[len - 1] == '.'))
		len--;
	if (len > 13 && memcmp(e, "parse error: ", 13) == 0)
		buf_put(msg, e + 13, len - 13);
	else
		buf_put(msg, e, len);
	yajl_free_error(h, e);
}

/*
 * Does p[0..n) end inside a string?  yajl 2 takes a text whose value is
 * followed by the start of a string that never closes ("{}\"x") as one
 * JSON text, and a caller that writes the text as it is (a cache replay,
 * a request body) would write invalid JSON.
 */
int
json_ends_in_string(const char *p, size_t n)
{
	int in = 0;

	for (; n; p++, n--)
		if (in && *p == '\\' && n > 1)
			p++, n--;
		else if (*p == '"')
			in = !in;
	return in;
}

/*
 * Append the compact form of the JSON text p[0..n) to out (unless out is
 * NULL) and fill in the picks.  Returns 0, or -1 with a description of the
 * fault in msg (then out holds garbage and the picks are unreliable).
 */
int
json_compact(const char *p, size_t n, struct buf *out, struct jpick *picks,
    size_t npicks, struct buf *msg)
{
	struct jc c;
	yajl_handle h;
	yajl_status st;
	const unsigned char *gp;
	size_t gn, i;
	int rc = 0, eof = 0;

	memset(&c, 0, sizeof c);
	if (npicks > JSON_MAXPICK)
		npicks = JSON_MAXPICK;
	c.g = yajl_gen_alloc(NULL);
	c.picks = picks;
	c.npicks = npicks;
	for (i = 0; i < npicks; i++) {
		buf_reset(&picks[i].val);
		c.depth[i] = -1;
		c.pg[i] = yajl_gen_alloc(NULL);
	}
	h = yajl_alloc(&jc_callbacks, NULL, &c);
	st = yajl_parse(h, (const unsigned char *)p, n);
	if (st == yajl_status_ok &&
	    (st = yajl_complete_parse(h)) != yajl_status_ok)
		eof = 1;
	if (st != yajl_status_ok) {
		if (c.toodeep) {
			buf_reset(msg);
			buf_puts(msg, "invalid JSON: nested too deeply");
		} else
			json_error(h, p, n, eof, "invalid JSON", msg);
		rc = -1;
	} else if (json_ends_in_string(p, n)) {
		buf_reset(msg);
		buf_puts(msg, "invalid JSON: trailing garbage");
		rc = -1;
	} else if (out) {
		yajl_gen_get_buf(c.g, &gp, &gn);
		buf_put(out, gp, gn);
	}
	yajl_free(h);
	yajl_gen_free(c.g);
	for (i = 0; i < npicks; i++)
		yajl_gen_free(c.pg[i]);
	buf_free(&c.path);
	buf_free(&c.tmp);
	return rc;
}

/* json_members(): the top-level members of an object, one by one. */
struct jm {
	void (*fn)(void *, const char *, size_t, const char *, size_t);
	void *ctx;
	yajl_gen g;
	int depth;
	struct buf key;
};

/* A value inside a member (depth > 1) goes to the generator; a string
 * member is handed over as it is. */
static void
jm_done(struct jm *m)
{
	const unsigned char *p;
	size_t n;

	if (m->depth != 1)
		return;
	yajl_gen_get_buf(m->g, &p, &n);
	m->fn(m->ctx, m->key.p, m->key.len, (const char *)p, n);
	yajl_gen_clear(m->g);
	yajl_gen_reset(m->g, NULL);
}

static int
jm_null(void *ctx)
{
	struct jm *m = ctx;

	yajl_gen_null(m->g);
	jm_done(m);
	return 1;
}

static int
jm_bool(void *ctx, int v)
{
	struct jm *m = ctx;

	yajl_gen_bool(m->g, v);
	jm_done(m);
	return 1;
}

static int
jm_number(void *ctx, const char *s, size_t n)
{
	struct jm *m = ctx;

	yajl_gen_number(m->g, s, n);
	jm_done(m);
	return 1;
}

static int
jm_string(void *ctx, const unsigned char *s, size_t n)
{
	struct jm *m = ctx;

	if (m->depth == 1)
		m->fn(m->ctx, m->key.p, m->key.len, (const char *)s, n);
	else
		yajl_gen_string(m->g, s, n);
	return 1;
}

static int
jm_start_map(void *ctx)
{
	struct jm *m = ctx;

	if (m->depth++ > 0)
		yajl_gen_map_open(m->g);
	return 1;
}

static int
jm_map_key(void *ctx, const unsigned char *s, size_t n)
{
	struct jm *m = ctx;

	if (m->depth == 1) {
		buf_reset(&m->key);
		buf_put(&m->key, s, n);
	} else
		yajl_gen_string(m->g, s, n);
	return 1;
}

static int
jm_end_map(void *ctx)
{
	struct jm *m = ctx;

	if (--m->depth > 0) {
		yajl_gen_map_close(m->g);
		jm_done(m);
	}
	return 1;
}

static int
jm_start_array(void *ctx)
{
	struct jm *m = ctx;

	if (m->depth == 0)
		return 0;
	m->depth++;
	yajl_gen_array_open(m->g);
	return 1;
}

static int
jm_end_array(void *ctx)
{
	struct jm *m = ctx;

	m->depth--;
	yajl_gen_array_close(m->g);
	jm_done(m);
	return 1;
}

static const yajl_callbacks jm_callbacks = {
	jm_null, jm_bool, NULL, NULL, jm_number, jm_string,
	jm_start_map, jm_map_key, jm_end_map, jm_start_array, jm_end_array
};

/*
 * Call fn(ctx, key, keylen, value, valuelen) for each member of the JSON
 * object p[0..n): a string member's value as its bytes, any other value
 * as its compact JSON.  Returns 0, or -1 when p is not a JSON object.
 */
int
json_members(const char *p, size_t n,
    void (*fn)(void *, const char *, size_t, const char *, size_t),
    void *ctx)
{
	struct jm m;
	yajl_handle h;
	int rc;

	memset(&m, 0, sizeof m);
	m.fn = fn;
	m.ctx = ctx;
	if (!(m.g = yajl_gen_alloc(NULL)) ||
	    !(h = yajl_alloc(&jm_callbacks, NULL, &m)))
		err(2, "out of memory");
	rc = yajl_parse(h, (const unsigned char *)p, n) == yajl_status_ok &&
	    yajl_complete_parse(h) == yajl_status_ok ? 0 : -1;
	yajl_free(h);
	yajl_gen_free(m.g);
	buf_free(&m.key);
	return rc;
}

static int
tc_string(void *ctx, const unsigned char *s, size_t n)
{
	(void)s;
	*(long long *)ctx += (long long)n;
	return 1;
}

/* The bytes of every string value in p[0..n) (keys not counted): the
 * text of a request, for estimating its tokens.  0 for invalid JSON. */
long long
json_text_chars(const char *p, size_t n)
{
	static const yajl_callbacks cb = { .yajl_string = tc_string };
	long long chars = 0;
	yajl_handle h;

	if (!p || !(h = yajl_alloc(&cb, NULL, &chars)))
		return 0;
	if (yajl_parse(h, (const unsigned char *)p, n) != yajl_status_ok ||
	    yajl_complete_parse(h) != yajl_status_ok)
		chars = 0;
	yajl_free(h);
	return chars;
}

/* Is p[0..n) one complete UTF-8 sequence start at p of length *len? */
static int
utf8_seq(const unsigned char *p, size_t n, size_t *len)
{
	unsigned c = p[0], min, cp;
	size_t k, i;

	if (c < 0x80) {
		*len = 1;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		k = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		k = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		k = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*len = k;
	return 1;
}

/*
 * Append s[0..n) to b as a JSON string literal.  Bytes that are not
 * valid UTF-8 become U+FFFD, so the output is always valid JSON.
 */
void
json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *run;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t len;

	buf_putc(b, '"');
	run = p;
	while (n) {
		if (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
			p++, n--;
			continue;
		}
		if (*p >= 0x80 && utf8_seq(p, n, &len)) {
			p += len, n -= len;
			continue;
		}
		buf_put(b, run, (size_t)(p - run));
		switch (*p) {
		case '"': buf_put(b, "\\\"", 2); break;
		case '\\': buf_put(b, "\\\\", 2); break;
		case '\n': buf_put(b, "\\n", 2); break;
		case '\r': buf_put(b, "\\r", 2); break;
		case '\t': buf_put(b, "\\t", 2); break;
		default:
			if (*p >= 0x80) {
				buf_put(b, UTF8_FFFD, 3);
				break;
			}
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			buf_put(b, esc, 6);
		}
		p++, n--;
		run = p;
	}
	buf_put(b, run, (size_t)(p - run));
	buf_putc(b, '"');
}

/* Is s[0..n) valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF)?  Returns n, or the offset of the first bad byte. */
size_t
json_utf8_check(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!utf8_seq(p + i, n - i, &len))
			return i;
		i += len;
	}
	return n;
}

/* s[0..*n) as valid UTF-8: itself when it is, else a copy in tmp with
 * each bad byte replaced by U+FFFD (yajl's own check lets surrogates
 * and overlong forms through, and \udc00 escapes decode to them). */
const unsigned char *
json_utf8_clean(const unsigned char *s, size_t *n, struct buf *tmp)
{
	size_t i = json_utf8_check((const char *)s, *n), len;

	if (i == *n)
		return s;
	buf_reset(tmp);
	buf_put(tmp, s, i);
	while (i < *n) {
		if (s[i] < 0x80)
			buf_putc(tmp, s[i++]);
		else if (utf8_seq(s + i, *n - i, &len)) {
			buf_put(tmp, s + i, len);
			i += len;
		} else {
			buf_put(tmp, UTF8_FFFD, 3);
			i++;
		}
	}
	*n = tmp->len;
	return (const unsigned char *)tmp->p;
}

/* Free the values of an array of picks. */
void
json_picks_free(struct jpick *picks, size_t n)
{
	while (n--)
		buf_free(&picks[n].val);
}

/* Parse a compact JSON integer value (as picked); -1 when it is not one. */
long long
json_int(const struct buf *v)
{
	char *end;
	long long x;

	if (!v->len)
		return -1;
	x = strtoll(v->p, &end, 10);
	return *end ? -1 : x;
}
