/*
 * mock-json.c: JSON for t/mockvman: reading request bodies with
 * yajl_tree, writing answers with yajl_gen.
 * What it answers: t/mockvman.md.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock.h"

yajl_val
json_get(yajl_val o, const char *key)
{
	size_t i;

	if (!YAJL_IS_OBJECT(o))
		return NULL;
	for (i = 0; i < o->u.object.len; i++)
		if (strcmp(o->u.object.keys[i], key) == 0)
			return o->u.object.values[i];
	return NULL;
}

const char *
json_str(yajl_val v)
{
	return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

/* An integer member: true counts as 1, anything else not a number as
 * def. */
long long
json_int(yajl_val v, long long def)
{
	double d;

	if (v == NULL)
		return def;
	if (YAJL_IS_INTEGER(v))
		return YAJL_GET_INTEGER(v);
	if (YAJL_IS_DOUBLE(v)) {
		d = YAJL_GET_DOUBLE(v);
		return d > -4e18 && d < 4e18 ? (long long)d : def;
	}
	if (YAJL_IS_TRUE(v))
		return 1;
	return def;
}

int
json_bool(yajl_val v)
{
	return json_int(v, 0) != 0;
}

/* Deepest nesting of arrays and objects in a JSON text: yajl_tree_free
 * recurses, so a hostile body must not reach it. */
size_t
json_depth(const char *p, size_t n)
{
	size_t i, d = 0, max = 0;
	int str = 0;

	for (i = 0; i < n; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = 0;
		} else if (p[i] == '"')
			str = 1;
		else if (p[i] == '[' || p[i] == '{') {
			if (++d > max)
				max = d;
		} else if ((p[i] == ']' || p[i] == '}') && d > 0)
			d--;
	}
	return max;
}

/* Serialise a parse-tree value compactly (mock.body). */
static void
gen_value(yajl_gen gen, yajl_val v)
{
	const char *s;
	size_t i;

	if (YAJL_IS_STRING(v)) {
		s = YAJL_GET_STRING(v);
		yajl_gen_string(gen, (const unsigned char *)s, strlen(s));
	} else if (YAJL_IS_NUMBER(v)) {
		s = YAJL_GET_NUMBER(v);
		yajl_gen_number(gen, s, strlen(s));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(gen);
		for (i = 0; i < v->u.object.len; i++) {
			s = v->u.object.keys[i];
			yajl_gen_string(gen, (const unsigned char *)s,
			    strlen(s));
			gen_value(gen, v->u.object.values[i]);
		}
		yajl_gen_map_close(gen);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(gen);
		for (i = 0; i < v->u.array.len; i++)
			gen_value(gen, v->u.array.values[i]);
		yajl_gen_array_close(gen);
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		yajl_gen_bool(gen, YAJL_IS_TRUE(v));
	else
		yajl_gen_null(gen);
}

/* The mock.body value, serialised, becomes the answer's body. */
void
json_answer(struct conn *c, yajl_val v)
{
	const unsigned char *p;
	size_t n;
	yajl_gen gen;

	if ((gen = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	gen_value(gen, v);
	if (yajl_gen_get_buf(gen, &p, &n) == yajl_gen_status_ok)
		buf_add(&c->r.head, p, n);
	yajl_gen_free(gen);
}

/* The JSON object in a body (n bytes at body), or NULL after answering
 * 400.  yajl_tree_parse wants a string: the byte after the body is
 * borrowed (the input buffer always has room for it). */
yajl_val
json_body(struct conn *c, char *body, size_t n)
{
	char ebuf[256], msg[512], save;
	yajl_val root;

	if (json_depth(body, n) > MAX_DEPTH) {
		http_error(c, 400, "We could not parse the JSON body of "
		    "your request. (mock: nested too deeply)",
		    "invalid_request_error", NULL, &nomock);
		return NULL;
	}
	save = body[n];
	body[n] = '\0';
	ebuf[0] = '\0';
	root = yajl_tree_parse(body, ebuf, sizeof ebuf);
	body[n] = save;
	ebuf[strcspn(ebuf, "\n")] = '\0';
	if (!YAJL_IS_OBJECT(root)) {
		snprintf(msg, sizeof msg, "We could not parse the JSON body "
		    "of your request. (mock: %s)", root ? "not an object" :
		    ebuf[0] ? ebuf : "invalid JSON");
		http_error(c, 400, msg, "invalid_request_error", NULL,
		    &nomock);
		yajl_tree_free(root);
		return NULL;
	}
	return root;
}

/* The one JSON writer of the server: yajl_gen, with neither UTF-8
 * checks nor escaped '/': bytes >= 0x80 pass through raw, so valid
 * UTF-8 stays valid and the deliberate invalid bytes stay invalid.
 * Running out of memory is fatal. */
yajl_gen
json_gen(void)
{
	yajl_gen y;

	if ((y = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	return y;
}

/* Move the JSON text made in y to the end of b; y is then ready for
 * another text. */
void
json_take(yajl_gen y, struct buf *b)
{
	const unsigned char *p;
	size_t n;

	if (yajl_gen_get_buf(y, &p, &n) == yajl_gen_status_ok)
		buf_add(b, p, n);
	yajl_gen_clear(y);
	yajl_gen_reset(y, NULL);
}

/* Bytes of the text made so far in y: where the next value will go. */
size_t
json_len(yajl_gen y)
{
	const unsigned char *p;
	size_t n;

	return yajl_gen_get_buf(y, &p, &n) == yajl_gen_status_ok ? n : 0;
}

/* OpenAI's error object; code NULL gives "code":null. */
void
json_error(yajl_gen y, const char *msg, const char *type, const char *code)
{
	yajl_gen_map_open(y);
	json_put(y, "error");
	yajl_gen_map_open(y);
	json_ks(y, "message", msg);
	json_ks(y, "type", type);
	json_ks(y, "param", NULL);
	json_ks(y, "code", code);
	yajl_gen_map_close(y);
	yajl_gen_map_close(y);
}

/* json_put writes a string or null, json_putn n bytes as a string,
 * json_raw a JSON value this writer made before, as it is; the json_k*
 * a key and its value. */
void
json_put(yajl_gen y, const char *s)
{
	if (s)
		yajl_gen_string(y, (const unsigned char *)s, strlen(s));
	else
		yajl_gen_null(y);
}

void
json_putn(yajl_gen y, const char *s, size_t n)
{
	yajl_gen_string(y, (const unsigned char *)(n ? s : ""), n);
}

/* yajl_gen_number writes its bytes unchanged, in a value's place. */
void
json_raw(yajl_gen y, const char *s, size_t n)
{
	yajl_gen_number(y, s, n);
}

void
json_ks(yajl_gen y, const char *k, const char *v)
{
	json_put(y, k);
	json_put(y, v);
}

void
json_ki(yajl_gen y, const char *k, long long v)
{
	json_put(y, k);
	yajl_gen_integer(y, v);
}

void
json_kb(yajl_gen y, const char *k, int v)
{
	json_put(y, k);
	yajl_gen_bool(y, v);
}

/* A number with at most three decimals (yajl's own doubles show the
 * binary noise). */
void
json_kd(yajl_gen y, const char *k, double v)
{
	char t[48];
	int n;

	json_put(y, k);
	n = snprintf(t, sizeof t, "%.3f", v);
	while (n > 2 && t[n - 1] == '0' && t[n - 2] != '.')
		n--;
	yajl_gen_number(y, t, n);
}

/* The parse tree v as compact JSON text, the top-level "mock" member
 * left out (Suno's "input"). */
char *
json_text(yajl_val v)
{
	const unsigned char *p;
	yajl_gen y;
	size_t n, i;
	char *s;

	if ((y = yajl_gen_alloc(NULL)) == NULL)
		errx(2, "out of memory");
	yajl_gen_map_open(y);
	for (i = 0; YAJL_IS_OBJECT(v) && i < v->u.object.len; i++) {
		if (strcmp(v->u.object.keys[i], "mock") == 0)
			continue;
		json_put(y, v->u.object.keys[i]);
		gen_value(y, v->u.object.values[i]);
	}
	yajl_gen_map_close(y);
	yajl_gen_get_buf(y, &p, &n);
	if ((s = malloc(n + 1)) == NULL)
		errx(2, "out of memory");
	memcpy(s, p, n);
	s[n] = '\0';
	yajl_gen_free(y);
	return s;
}

static void
buf_b64(struct buf *b, const void *src, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = src;
	unsigned long v;
	char o[4];
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		o[0] = tab[v >> 18 & 63];
		o[1] = tab[v >> 12 & 63];
		o[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		o[3] = i + 2 < n ? tab[v & 63] : '=';
		buf_add(b, o, 4);
	}
}

/* Key k with the base64 of n bytes at p as its value. */
void
json_kb64(yajl_gen y, const char *k, const void *p, size_t n)
{
	struct buf b = { 0 };

	buf_b64(&b, p, n);
	json_put(y, k);
	yajl_gen_string(y, (const unsigned char *)(b.p ? b.p : ""), b.len);
	buf_free(&b);
}
