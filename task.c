/*
 * task.c: following an asynchronous task from its submit answer to its
 * end, by a descriptor (endpoints.c, or a request's own "task" object).
 *
 * Task answers are small and come every few seconds, so they are read
 * with yajl_tree; the descriptor's dotted paths are walked over the tree.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "vmanjl.h"

/* A request's own descriptor: the tree its strings point into. */
struct utask {
	struct taskdesc d;	/* first: a struct utask is a taskdesc */
	yajl_val tree;
	const char **lists[6];
	struct buf poll_body;
	struct buf alts[16];	/* paths given as arrays, joined by '|' */
	size_t nalts;
};

/* ---------------------------------------------------------------- */
/* Paths over a tree */

/* Call fn for every value at path under v. */
static void
walk(yajl_val v, const char *path, void (*fn)(void *, yajl_val), void *ctx)
{
	char seg[256];
	size_t n, i;
	char *end;
	long k;

	if (!v)
		return;
	if (!path || !*path) {
		fn(ctx, v);
		return;
	}
	n = strcspn(path, ".");
	if (n >= sizeof seg)
		return;
	memcpy(seg, path, n);
	seg[n] = '\0';
	path += n + (path[n] == '.');
	if (strcmp(seg, "*") == 0) {
		if (YAJL_IS_ARRAY(v))
			for (i = 0; i < v->u.array.len; i++)
				walk(v->u.array.values[i], path, fn, ctx);
		else if (YAJL_IS_OBJECT(v))
			for (i = 0; i < v->u.object.len; i++)
				walk(v->u.object.values[i], path, fn, ctx);
		return;
	}
	if (YAJL_IS_ARRAY(v)) {
		k = strtol(seg, &end, 10);
		if (*end || k < 0 || (size_t)k >= v->u.array.len)
			return;
		walk(v->u.array.values[k], path, fn, ctx);
	} else if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < v->u.object.len; i++)
			if (strcmp(v->u.object.keys[i], seg) == 0) {
				walk(v->u.object.values[i], path, fn, ctx);
				return;
			}
	}
}

static void
take_first(void *ctx, yajl_val v)
{
	yajl_val *out = ctx;

	if (!*out && !YAJL_IS_NULL(v))
		*out = v;
}

/* Call fn for every value at each of the paths in alts, separated by
 * '|' ("task_id|data.task_id"), in that order. */
static void
walk_alts(yajl_val v, const char *alts, void (*fn)(void *, yajl_val),
    void *ctx)
{
	char path[512];
	size_t n;

	while (alts && *alts) {
		n = strcspn(alts, "|");
		if (n < sizeof path) {
			memcpy(path, alts, n);
			path[n] = '\0';
			walk(v, path, fn, ctx);
		}
		alts += n + (alts[n] == '|');
	}
}

/* The first value that is not null at path (or at the first of its
 * alternatives that has one), or NULL. */
static yajl_val
first(yajl_val v, const char *path)
{
	yajl_val out = NULL;

	walk_alts(v, path, take_first, &out);
	return out;
}

/* A scalar as text: strings as they are, others as their JSON. */
static const char *
text(yajl_val v)
{
	if (!v)
		return NULL;
	if (YAJL_IS_STRING(v))
		return YAJL_GET_STRING(v);
	if (YAJL_IS_NUMBER(v))
		return YAJL_GET_NUMBER(v);
	if (YAJL_IS_TRUE(v))
		return "true";
	if (YAJL_IS_FALSE(v))
		return "false";
	return NULL;
}

static int
in_list(const char *const *l, const char *s)
{
	if (!l || !s)
		return 0;
	for (; *l; l++)
		if (strcmp(*l, s) == 0)
			return 1;
	return 0;
}

/* Generate tree value v; strings made strict UTF-8 first (yajl's own
 * check lets surrogates and overlong forms through). */
static void
gen_tree(yajl_gen g, yajl_val v, struct buf *tmp)
{
	const unsigned char *s;
	size_t i, n;

	if (!v || YAJL_IS_NULL(v))
		yajl_gen_null(g);
	else if (YAJL_IS_STRING(v) || YAJL_IS_NUMBER(v)) {
		s = (const unsigned char *)(YAJL_IS_STRING(v) ? v->u.string :
		    v->u.number.r);
		n = strlen((const char *)s);
		if (YAJL_IS_NUMBER(v))
			yajl_gen_number(g, (const char *)s, n);
		else {
			s = json_utf8_clean(s, &n, tmp);
			yajl_gen_string(g, s, n);
		}
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (i = 0; i < v->u.array.len; i++)
			gen_tree(g, v->u.array.values[i], tmp);
		yajl_gen_array_close(g);
	} else {
		yajl_gen_map_open(g);
		for (i = 0; i < v->u.object.len; i++) {
			s = (const unsigned char *)v->u.object.keys[i];
			n = strlen((const char *)s);
			s = json_utf8_clean(s, &n, tmp);
			yajl_gen_string(g, s, n);
			gen_tree(g, v->u.object.values[i], tmp);
		}
		yajl_gen_map_close(g);
	}
}

/* Append the compact JSON of a tree value. */
static void
tree_json(struct buf *b, yajl_val v)
{
	yajl_gen g;
	struct buf tmp = { 0 };
	const unsigned char *out;
	size_t n;

	if (!(g = yajl_gen_alloc(NULL)))
		err(2, "out of memory");
	gen_tree(g, v, &tmp);
	if (yajl_gen_get_buf(g, &out, &n) == yajl_gen_status_ok)
		buf_put(b, out, n);
	yajl_gen_free(g);
	buf_free(&tmp);
}

/* How deep does the JSON text p[0..n) nest?  yajl_tree and the walks
 * over it recurse once a level: too deep a text is refused first. */
static int
too_deep(const char *p, size_t n)
{
	int depth = 0, str = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (str) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				str = 0;
		} else if (p[i] == '"')
			str = 1;
		else if (p[i] == '[' || p[i] == '{') {
			if (++depth > 100)
				return 1;
		} else if (p[i] == ']' || p[i] == '}')
			depth--;
	}
	return 0;
}

static yajl_val
parse(const char *p, size_t n, struct buf *msg)
{
	char e[256];
	char *s;
	yajl_val v;

	if (too_deep(p, n)) {
		buf_reset(msg);
		buf_puts(msg, "invalid JSON in the answer: nested too deeply");
		return NULL;
	}

	s = xmalloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	e[0] = '\0';
	v = yajl_tree_parse(s, e, sizeof e);
	free(s);
	if (!v) {
		buf_reset(msg);
		buf_puts(msg, "invalid JSON in the answer: ");
		buf_puts(msg, e[0] ? e : "out of memory");
		while (msg->len && msg->p[msg->len - 1] == '\n')
			msg->p[--msg->len] = '\0';
	}
	return v;
}

/* ---------------------------------------------------------------- */
/* Descriptors of a request's own */

/*
 * A string member k of the descriptor object o.  A path member may also
 * be an array of alternative paths, kept joined by '|' in u.
 */
static const char *
str_member(struct utask *u, yajl_val o, const char *k, struct buf *msg,
    int *bad)
{
	const char *path[] = { k, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_any);
	struct buf *b;
	size_t i;

	if (!v)
		return NULL;
	if (YAJL_IS_ARRAY(v) && v->u.array.len && u->nalts < 16 &&
	    strcmp(k, "name") != 0 && strcmp(k, "poll") != 0 &&
	    strcmp(k, "poll_method") != 0 && strcmp(k, "content") != 0) {
		b = &u->alts[u->nalts++];
		for (i = 0; i < v->u.array.len; i++) {
			if (!YAJL_IS_STRING(v->u.array.values[i]))
				break;
			if (i)
				buf_putc(b, '|');
			buf_puts(b, YAJL_GET_STRING(v->u.array.values[i]));
		}
		if (i == v->u.array.len)
			return b->p;
	}
	if (!YAJL_IS_STRING(v)) {
		if (!*bad) {
			buf_reset(msg);
			buf_puts(msg, "task member '");
			buf_puts(msg, k);
			buf_puts(msg, "' must be a string, or for a path "
			    "an array of strings");
		}
		*bad = 1;
		return NULL;
	}
	return YAJL_GET_STRING(v);
}

static const char **
list_member(yajl_val o, const char *k, struct buf *msg, int *bad)
{
	const char *path[] = { k, NULL };
	yajl_val v = yajl_tree_get(o, path, yajl_t_any);
	const char **l;
	size_t i;

	if (!v)
		return NULL;
	if (YAJL_IS_STRING(v) || YAJL_IS_NUMBER(v))
		v = NULL;	/* a single value: made a list below */
	else if (!YAJL_IS_ARRAY(v)) {
		*bad = 1;
		buf_reset(msg);
		buf_puts(msg, "task member '");
		buf_puts(msg, k);
		buf_puts(msg, "' must be an array of strings or numbers");
		return NULL;
	}
	if (!v) {
		l = xcalloc(2, sizeof *l);
		l[0] = text(yajl_tree_get(o, path, yajl_t_any));
		return l;
	}
	l = xcalloc(v->u.array.len + 1, sizeof *l);
	for (i = 0; i < v->u.array.len; i++)
		if (!(l[i] = text(v->u.array.values[i]))) {
			*bad = 1;
			buf_reset(msg);
			buf_puts(msg, "task member '");
			buf_puts(msg, k);
			buf_puts(msg, "' must hold strings or numbers");
		}
	return l;
}

void
task_free(const struct taskdesc *d)
{
	struct utask *u = (struct utask *)d;
	size_t i;

	if (!u)
		return;
	for (i = 0; i < 6; i++)
		free(u->lists[i]);
	for (i = 0; i < u->nalts; i++)
		buf_free(&u->alts[i]);
	buf_free(&u->poll_body);
	yajl_tree_free(u->tree);
	free(u);
}

/*
 * A descriptor from the request's "task" object json[0..n), over the
 * built-in one base (may be NULL): each member given replaces base's.
 * Returns NULL with the reason in msg when it is unusable.
 */
const struct taskdesc *
task_desc(const struct taskdesc *base, const char *json, size_t n,
    struct buf *msg)
{
	static const char *known[] = {
		"name", "id", "code", "code_ok", "code_busy", "message",
		"poll", "poll_method", "poll_body", "content", "object",
		"status", "done", "failed", "cancelled", "progress",
		"progress_max", "urls", "error", NULL
	};
	static const char *pb[] = { "poll_body", NULL };
	static const char *pm[] = { "progress_max", NULL };
	struct utask *u = xcalloc(1, sizeof *u);
	struct taskdesc *d = &u->d;
	const char **l;
	const char *s;
	yajl_val o, v;
	size_t i, k;
	int bad = 0;

	if (base)
		*d = *base;
	if (!(o = u->tree = parse(json, n, msg)))
		goto fail;
	for (i = 0; i < o->u.object.len; i++) {
		for (k = 0; known[k]; k++)
			if (strcmp(known[k], o->u.object.keys[i]) == 0)
				break;
		if (!known[k]) {
			buf_reset(msg);
			buf_puts(msg, "unknown task member ");
			json_str(msg, o->u.object.keys[i],
			    strlen(o->u.object.keys[i]));
			goto fail;
		}
	}
#define STR(m) if ((s = str_member(u, o, #m, msg, &bad))) d->m = s
	STR(name); STR(id); STR(code); STR(message); STR(poll);
	STR(poll_method); STR(content); STR(object); STR(status);
	STR(progress); STR(error);
#undef STR
#define LIST(m, slot) if ((l = list_member(o, #m, msg, &bad))) \
	d->m = u->lists[slot] = l
	LIST(code_ok, 0); LIST(done, 1); LIST(failed, 2);
	LIST(cancelled, 3); LIST(urls, 4); LIST(code_busy, 5);
#undef LIST
	if ((v = yajl_tree_get(o, pb, yajl_t_any))) {
		if (YAJL_IS_STRING(v))
			buf_puts(&u->poll_body, YAJL_GET_STRING(v));
		else
			tree_json(&u->poll_body, v);
		d->poll_body = u->poll_body.p;
	}
	if ((v = yajl_tree_get(o, pm, yajl_t_number)))
		d->progress_max = YAJL_GET_DOUBLE(v);
	if (bad)
		goto fail;
	buf_reset(msg);
	if (!d->id)
		buf_puts(msg, "task descriptor has no 'id' path");
	else if (!d->poll)
		buf_puts(msg, "task descriptor has no 'poll' path");
	else if (!d->status)
		buf_puts(msg, "task descriptor has no 'status' path");
	else if (!d->done)
		buf_puts(msg, "task descriptor has no 'done' values");
	if (msg->len)
		goto fail;
	if (!d->name)
		d->name = "task";
	return d;
fail:
	task_free(d);
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Following a task */

void
task_state_free(struct taskstate *t)
{
	buf_free(&t->id);
	buf_free(&t->status);
	buf_free(&t->urls);
	buf_free(&t->raw);
	buf_free(&t->reason);
	memset(t, 0, sizeof *t);
}

/*
 * The submit answer body[0..n) was 2xx: is the task accepted, and what
 * is its id?  Returns TASK_RUNNING with t->id set, or TASK_REFUSED (the
 * business code says no), TASK_BUSY (it says not now: send it again) or
 * TASK_BAD with the reason in msg.
 */
int
task_submit(const struct taskdesc *d, const char *body, size_t n,
    struct taskstate *t, struct buf *msg)
{
	yajl_val root, v;
	const char *s;
	int rc = TASK_RUNNING;

	if (!(root = parse(body, n, msg)))
		return TASK_BAD;
	buf_reset(msg);
	if (d->code && d->code_ok && (v = first(root, d->code)) &&
	    !in_list(d->code_ok, text(v))) {
		buf_reset(&t->status);
		tree_json(&t->status, v);	/* the code, for the record */
		s = text(first(root, d->message));
		rc = in_list(d->code_busy, text(v)) ? TASK_BUSY : TASK_REFUSED;
		buf_puts(msg, rc == TASK_BUSY ? "task refused for now: " :
		    "task refused: ");
		buf_puts(msg, s ? s : "");
		buf_puts(msg, s ? " (code " : "(code ");
		buf_puts(msg, text(v) ? text(v) : "?");
		buf_puts(msg, ")");
	} else if (!(s = text(first(root, d->id))) || !*s) {
		buf_puts(msg, "no task id at '");
		buf_puts(msg, d->id);
		buf_puts(msg, "' in the submit answer");
		rc = TASK_BAD;
	} else {
		buf_reset(&t->id);
		buf_puts(&t->id, s);
		buf_reset(&t->status);
		t->phase = TASK_RUNNING;
		t->progress = -1;
		buf_reset(&t->raw);
		tree_json(&t->raw, root);
	}
	yajl_tree_free(root);
	return rc;
}

/* Append id as a URL path segment, or JSON-escaped inside a string. */
static void
put_id(struct buf *b, const char *s, int json)
{
	struct buf j = { 0 };

	if (!json) {
		url_put_id(b, s);
		return;
	}
	json_str(&j, s, strlen(s));
	buf_put(b, j.p + 1, j.len - 2);
	buf_free(&j);
}

/* Fill template tpl: {id}, {path}, {prefix}. */
static void
expand(struct buf *out, const char *tpl, const char *path, size_t plen,
    const char *id, int json)
{
	size_t pre = 0, i;

	for (i = 0; i + 4 <= plen; i++)
		if (memcmp(path + i, "/mj/", 4) == 0) {
			pre = i;
			break;
		}
	while (*tpl) {
		if (strncmp(tpl, "{id}", 4) == 0) {
			put_id(out, id, json);
			tpl += 4;
		} else if (strncmp(tpl, "{path}", 6) == 0) {
			buf_put(out, path, plen);
			tpl += 6;
		} else if (strncmp(tpl, "{prefix}", 8) == 0) {
			buf_put(out, path, pre);
			tpl += 8;
		} else
			buf_putc(out, *tpl++);
	}
}

/*
 * The URL template tpl ({id}, {path}, {prefix}) filled for task t of a
 * request sent to submit (a path or URL): a path, or a URL when submit
 * was one or the template is one.  Dot segments are left for
 * url_join() to resolve.
 */
void
task_url(const char *tpl, const char *submit, const struct taskstate *t,
    struct buf *url)
{
	struct buf path = { 0 };
	int abs = url_absolute(submit);

	if (!abs || url_path(submit, &path) < 0)
		buf_put(&path, submit, strcspn(submit, "?#"));
	buf_reset(url);
	expand(url, tpl, path.p, path.len, t->id.p, 0);
	/* A template that starts with a path keeps the submit's host. */
	if (abs && (tpl[0] == '/' || tpl[0] == '{'))
		url_resolve(url, submit);
	buf_free(&path);
}

/*
 * The poll request for task t of a request sent to submit (a path or
 * URL): its URL (a path, or a URL when submit was one or the template
 * is one) and body (empty for none).  Dot segments are left for
 * url_join() to resolve.
 */
void
task_poll(const struct taskdesc *d, const char *submit,
    const struct taskstate *t, struct buf *url, struct buf *body)
{
	struct buf path = { 0 };

	task_url(d->poll, submit, t, url);
	buf_reset(body);
	if (d->poll_body) {
		if (!url_absolute(submit) || url_path(submit, &path) < 0)
			buf_put(&path, submit, strcspn(submit, "?#"));
		expand(body, d->poll_body, path.p, path.len, t->id.p, 1);
	}
	buf_free(&path);
}

/* Append URL s to the JSON array being built in b ("[" and members so
 * far), unless it is there already. */
static void
put_url(struct buf *b, const char *s)
{
	struct buf j = { 0 };
	const char *p;

	json_str(&j, s, strlen(s));
	for (p = b->p; p && (p = strstr(p, j.p)); p++)
		if ((p[-1] == '[' || p[-1] == ',') &&
		    (p[j.len] == ',' || p[j.len] == '\0'))
			break;
	if (!p) {
		if (b->len > 1)
			buf_putc(b, ',');
		buf_put(b, j.p, j.len);
	}
	buf_free(&j);
}

static void
add_url(void *ctx, yajl_val v)
{
	const char *s = YAJL_IS_STRING(v) ? v->u.string : NULL;

	if (s && *s)
		put_url(ctx, s);
}

/* Is s an http(s) URL? */
static int
is_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

static double
progress_of(const struct taskdesc *d, yajl_val v)
{
	const char *s = text(v);
	double x, max = d->progress_max > 0 ? d->progress_max : 1;
	char *end;

	if (!s)
		return -1;
	x = strtod(s, &end);
	if (end == s || x != x)		/* no number, or NaN */
		return -1;
	if (*end == '%')
		max = 100;
	x /= max;
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

/* Does this text say "not found"?  Relays spell it many ways:
 * task_not_exist, task_not_found, new-api's "task_no_found ", "Task not
 * found". */
static int
says_not_found(const char *s)
{
	static const char *const words[] = {
		"not_found", "not found", "no_found", "not_exist", "not exist",
		NULL
	};
	const char *const *w;
	size_t i, n;

	if (!s)
		return 0;
	for (w = words; *w; w++)
		for (n = strlen(*w), i = 0; s[i]; i++)
			if (strncasecmp(s + i, *w, n) == 0)
				return 1;
	return 0;
}

/* Does a poll answer say the task does not exist (yet)? */
static int
not_found(long status, yajl_val root)
{
	return status == 404 || says_not_found(text(first(root, "code"))) ||
	    says_not_found(text(first(root, "description"))) ||
	    says_not_found(text(first(root, "status")));
}

/*
 * A poll answer (HTTP status, body[0..n)): update t.  Returns
 * TASK_RUNNING (t->changed says whether status or progress moved),
 * TASK_DONE, TASK_FAILED, TASK_CANCELLED, TASK_NOTFOUND, or TASK_BAD
 * with the reason in msg.
 */
int
task_update(const struct taskdesc *d, long status, const char *body,
    size_t n, struct taskstate *t, struct buf *msg)
{
	yajl_val root, obj;
	const char *s;
	double prog;
	int phase;

	t->changed = 0;
	if (!(root = parse(body, n, msg)))
		return status == 404 ? TASK_NOTFOUND : TASK_BAD;
	if (not_found(status, root)) {
		yajl_tree_free(root);
		return TASK_NOTFOUND;
	}
	if (!(obj = d->object ? first(root, d->object) : root)) {
		buf_reset(msg);
		buf_puts(msg, "no task at '");
		buf_puts(msg, d->object);
		buf_puts(msg, "' in the poll answer");
		yajl_tree_free(root);
		return TASK_BAD;
	}
	s = text(first(obj, d->status));
	if (!s)
		s = "";
	phase = in_list(d->done, s) ? TASK_DONE :
	    in_list(d->failed, s) ? TASK_FAILED :
	    in_list(d->cancelled, s) ? TASK_CANCELLED : TASK_RUNNING;
	prog = phase == TASK_DONE ? 1 : progress_of(d, first(obj,
	    d->progress));
	if (strcmp(s, t->status.p ? t->status.p : "") != 0 ||
	    prog != t->progress)
		t->changed = 1;
	buf_reset(&t->status);
	buf_puts(&t->status, s);
	t->progress = prog;
	t->phase = phase;
	buf_reset(&t->urls);
	buf_putc(&t->urls, '[');
	if (d->urls) {
		const char *const *u;

		for (u = d->urls; *u; u++)
			walk_alts(obj, *u, add_url, &t->urls);
	}
	buf_reset(&t->raw);
	tree_json(&t->raw, obj);
	buf_reset(&t->reason);
	if ((s = text(first(obj, d->error))) && strcmp(s, "false") != 0 &&
	    strcmp(s, "0") != 0) {
		/* Relays once kept a finished task's result URL here. */
		if (phase == TASK_DONE && is_url(s))
			put_url(&t->urls, s);
		else
			buf_puts(&t->reason, s);
	}
	buf_putc(&t->urls, ']');
	/* A task that ends with an error to tell has failed. */
	if (phase == TASK_DONE && t->reason.len &&
	    !in_list(d->done, t->reason.p))
		t->phase = phase = TASK_FAILED;
	yajl_tree_free(root);
	return phase;
}

static const char *
phase_name(int phase)
{
	switch (phase) {
	case TASK_DONE: return "succeeded";
	case TASK_FAILED: return "failed";
	case TASK_CANCELLED: return "cancelled";
	default: return "running";
	}
}

/* The normalised task: {"id","status","vendor_status","progress",...},
 * with urls and raw unless brief. */
void
task_json(const struct taskstate *t, int brief, struct buf *b)
{
	char num[32];

	buf_puts(b, "{\"id\":");
	json_str(b, t->id.p, t->id.len);
	buf_puts(b, ",\"status\":\"");
	buf_puts(b, t->submitted ? "submitted" : phase_name(t->phase));
	buf_puts(b, "\",\"vendor_status\":");
	if (t->status.len)
		json_str(b, t->status.p, t->status.len);
	else
		buf_puts(b, "null");
	if (t->progress >= 0) {
		snprintf(num, sizeof num, ",\"progress\":%.4g", t->progress);
		buf_puts(b, num);
	} else
		buf_puts(b, ",\"progress\":null");
	snprintf(num, sizeof num, ",\"polls\":%d", t->polls);
	buf_puts(b, num);
	if (!brief) {
		buf_puts(b, ",\"urls\":");
		if (t->urls.len)
			buf_put(b, t->urls.p, t->urls.len);
		else
			buf_puts(b, "[]");
		buf_puts(b, ",\"raw\":");
		if (t->raw.len)
			buf_put(b, t->raw.p, t->raw.len);
		else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

/* ---------------------------------------------------------------- */
/* A request's task, step by step */

/* A failure of the task itself: the error record carries the task. */
static int
step_fail(struct req *r, const char *kind, const char *what)
{
	struct failure *f = &r->fail;

	fail_set(f, r->status, kind, 0, "%s", what);
	if (r->ts.status.len)
		json_str(&f->code, r->ts.status.p, r->ts.status.len);
	buf_reset(&f->task);
	task_json(&r->ts, 0, &f->task);
	return TASK_STEP_FAILED;
}

/* The submit answer of r: refused, done (--no-wait), or the request
 * becomes its first poll, whose path goes to poll. */
static int
step_submit(struct req *r, struct result *res, long long now,
    struct buf *poll)
{
	const struct conf *c = r->pool->conf;
	struct taskstate *t = &r->ts;
	struct buf *msg = &r->pool->msg;
	int rc;

	rc = task_submit(r->task, r->resp.p, r->resp.len, t, msg);
	if (rc == TASK_BUSY) {
		/* "Queue full" and the like: the submit is sent again. */
		fail_set(&r->fail, r->status, "task_refused", 1, "%s", msg->p);
		buf_put(&r->fail.code, t->status.p, t->status.len);
		return TASK_STEP_ANSWER;
	}
	if (rc == TASK_REFUSED || rc == TASK_BAD) {
		/* No task came of it: the error has no task. */
		fail_set(&r->fail, r->status, rc == TASK_REFUSED ?
		    "task_refused" : "task_error", 0, "%s", msg->p);
		buf_put(&r->fail.code, t->status.p, t->status.len);
		json_compact(r->resp.p, r->resp.len, &r->fail.body, NULL, 0,
		    msg);
		return TASK_STEP_FAILED;
	}
	t->submitted = 1;
	if (c->no_wait) {
		task_json(t, 0, &res->task);
		return TASK_STEP_DONE;
	}
	out_progress(&r->pool->out, &r->o, t);
	/* From now on the request is the poll. */
	r->polling = 1;
	task_poll(r->task, r->path, t, poll, &r->resp);
	free(r->method);
	r->method = xstrdup(r->task->poll_method ? r->task->poll_method :
	    "GET");
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	if (r->resp.len) {
		r->body = xstrdup(r->resp.p);
		r->body_len = r->resp.len;
	}
	r->deadline = now + c->task_timeout_ms;
	r->notfound_until = now + 30000;
	return TASK_STEP_POLL;
}

/* The task is done and its content goes to the envelope's "output":
 * the request becomes the GET of it, whose path goes to poll. */
static int
step_fetch(struct req *r, struct buf *poll)
{
	r->fetching = 1;
	task_url(r->task->content, r->path, &r->ts, poll);
	free(r->method);
	r->method = xstrdup("GET");
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	return TASK_STEP_FETCH;
}

/*
 * An answer for a task request: the submit's, a poll's, or the finished
 * task's content.  Returns
 * TASK_STEP_DONE when it is the final one (res holds it, with the task),
 * TASK_STEP_POLL when the task goes on (poll holds the path of the first
 * poll, empty after that), TASK_STEP_FETCH when the finished task's
 * content is to be fetched now (from the path in poll), TASK_STEP_FAILED
 * when the task failed
 * (r->fail says how), and TASK_STEP_ANSWER when the answer is an
 * ordinary failure to report as such.
 */
int
task_step(struct req *r, struct result *res, long long now,
    struct buf *poll)
{
	const struct conf *c = r->pool->conf;
	struct taskstate *t = &r->ts;
	char what[512];
	int rc;

	buf_reset(poll);
	if (!r->polling)
		return step_submit(r, res, now, poll);
	if (r->fetching) {
		if (r->status < 200 || r->status >= 300)
			return TASK_STEP_ANSWER;
		task_json(t, 0, &res->task);
		return TASK_STEP_DONE;
	}
	rc = task_update(r->task, r->status, r->resp.p, r->resp.len, t,
	    &r->pool->msg);
	if (r->status >= 400 && rc != TASK_NOTFOUND)
		return TASK_STEP_ANSWER;	/* an error answer to a poll */
	t->submitted = 0;
	t->polls++;
	switch (rc) {
	case TASK_NOTFOUND:
		if (now < r->notfound_until)
			break;
		snprintf(what, sizeof what, "task %s not found after %.0f s",
		    t->id.p, (now - r->notfound_until + 30000) / 1000.0);
		return step_fail(r, "task_not_found", what);
	case TASK_DONE:
		if (r->task->content && r->output)
			return step_fetch(r, poll);
		task_json(t, 0, &res->task);
		return TASK_STEP_DONE;
	case TASK_FAILED:
	case TASK_CANCELLED:
		snprintf(what, sizeof what, "task %s %s: %s", t->id.p,
		    rc == TASK_FAILED ? "failed" : "was cancelled",
		    t->reason.len ? t->reason.p : t->status.p);
		return step_fail(r, rc == TASK_FAILED ? "task_failed" :
		    "task_cancelled", what);
	case TASK_BAD:
		snprintf(what, sizeof what, "%s", r->pool->msg.p);
		return step_fail(r, "task_error", what);
	}
	if (rc == TASK_RUNNING && t->changed)
		out_progress(&r->pool->out, &r->o, t);
	if (c->task_timeout_ms > 0 && now + c->poll_ms > r->deadline) {
		snprintf(what, sizeof what, "task %s did not finish within "
		    "--task-timeout (%.3g s); last status %s", t->id.p,
		    c->task_timeout_ms / 1000.0,
		    t->status.len ? t->status.p : "unknown");
		return step_fail(r, "task_timeout", what);
	}
	return TASK_STEP_POLL;
}
