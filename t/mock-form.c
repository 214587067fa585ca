/*
 * mock-form.c: multipart/form-data bodies for t/mockvman: parsing,
 * looking up parts, the last_form of /mock/stats.
 * What it answers: t/mockvman.md.
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mock.h"

static const char *
mem_find(const char *h, size_t hn, const char *nd, size_t nn)
{
	const char *p, *last;

	if (nn == 0 || hn < nn)
		return NULL;
	last = h + (hn - nn);
	for (p = h; p <= last; p++) {
		if ((p = memchr(p, nd[0], last - p + 1)) == NULL)
			return NULL;
		if (memcmp(p, nd, nn) == 0)
			return p;
	}
	return NULL;
}

/* "--" + the boundary of a multipart/form-data Content-Type into out;
 * 0 when ct is not that. */
int
form_delim(const char *ct, char *out, size_t osz)
{
	const char *p;
	size_t n;

	if (strncasecmp(ct, "multipart/form-data", 19) != 0)
		return 0;
	for (p = ct; (p = strchr(p, ';')) != NULL; ) {
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (strncasecmp(p, "boundary=", 9) != 0)
			continue;
		p += 9;
		if (*p == '"')
			n = strcspn(++p, "\"");
		else
			n = strcspn(p, "; \t");
		if (n == 0 || n + 3 > osz)
			return 0;
		memcpy(out, "--", 2);
		memcpy(out + 2, p, n);
		out[n + 2] = '\0';
		return 1;
	}
	return 0;
}

/* Parameter key of a Content-Disposition value (v, vl bytes): 1 and
 * the raw value (quotes removed, escapes kept) when present. */
static int
disp_param(const char *v, size_t vl, const char *key, const char **out,
    size_t *ol)
{
	const char *p = v, *e = v + vl, *k, *s;
	size_t kl = strlen(key), n, sl;

	for (;;) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == ';'))
			p++;
		if (p >= e)
			return 0;
		for (k = p; p < e && *p != '=' && *p != ';'; p++)
			;
		for (n = p - k; n > 0 && (k[n - 1] == ' ' || k[n - 1] == '\t');
		    n--)
			;
		if (p >= e || *p != '=')
			continue;
		for (p++; p < e && (*p == ' ' || *p == '\t'); p++)
			;
		if (p < e && *p == '"') {
			for (s = ++p; p < e && *p != '"'; p++)
				if (*p == '\\' && p + 1 < e)
					p++;
			sl = p - s;
			if (p < e)
				p++;
		} else {
			for (s = p; p < e && *p != ';'; p++)
				;
			for (sl = p - s; sl > 0 && s[sl - 1] == ' '; sl--)
				;
		}
		if (n == kl && strncasecmp(k, key, kl) == 0) {
			*out = s;
			*ol = sl;
			return 1;
		}
	}
}

static void
form_push(struct form *f, const struct part *pt)
{
	struct part *np;
	size_t cap;

	if (f->n == f->cap) {
		cap = f->cap ? f->cap * 2 : 8;
		if ((np = realloc(f->p, cap * sizeof *np)) == NULL)
			errx(2, "out of memory");
		f->p = np;
		f->cap = cap;
	}
	f->p[f->n++] = *pt;
}

/* Split a multipart body (n bytes at body) on delim ("--boundary");
 * sets f->bad when it is malformed. */
void
form_parse(struct form *f, char *body, size_t n, const char *delim)
{
	char *p, *end = body + n, *le, *c, *v, *nx, cd[136];
	size_t dl = strlen(delim), ll, vl, i;
	struct part pt;

	snprintf(cd, sizeof cd, "\r\n%s", delim);
	if (n >= dl && memcmp(body, delim, dl) == 0)
		p = body + dl;
	else if ((p = (char *)mem_find(body, n, cd, dl + 2)) != NULL)
		p += dl + 2;
	else {
		f->bad = 1;
		return;
	}
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		else if (p < end && *p == '\n')
			p++;
		else {
			f->bad = 1;
			return;
		}
		memset(&pt, 0, sizeof pt);
		for (;;) {
			if ((le = memchr(p, '\n', end - p)) == NULL) {
				f->bad = 1;
				return;
			}
			ll = le - p;
			if (ll > 0 && p[ll - 1] == '\r')
				ll--;
			c = memchr(p, ':', ll);
			if (ll == 0) {
				p = le + 1;
				break;
			}
			if (c != NULL) {
				for (v = c + 1; v < p + ll && *v == ' '; v++)
					;
				vl = p + ll - v;
				if (http_header_is(p, c - p,
				    "content-disposition")) {
					disp_param(v, vl, "name", &pt.name,
					    &pt.nl);
					pt.file = disp_param(v, vl, "filename",
					    &pt.fname, &pt.fl);
				} else if (http_header_is(p, c - p,
				    "content-type")) {
					pt.ctype = v;
					pt.cl = vl;
				}
			}
			p = le + 1;
		}
		if ((nx = (char *)mem_find(p, end - p, cd, dl + 2)) == NULL) {
			f->bad = 1;
			return;
		}
		pt.data = p;
		pt.len = nx - p;
		if (pt.name == NULL)
			pt.name = "";
		form_push(f, &pt);
		p = nx + dl + 2;
	}
	for (i = 0; i < f->n; i++)
		f->p[i].data[f->p[i].len] = '\0';
}

static int
part_is(const struct part *pt, const char *name)
{
	return strlen(name) == pt->nl && memcmp(pt->name, name, pt->nl) == 0;
}

/* The first file part called name (any name when NULL). */
const struct part *
form_file(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->p[i].file && (name == NULL || part_is(&f->p[i], name)))
			return &f->p[i];
	return NULL;
}

/* The value of the first part called name, as a string. */
const char *
form_text(const struct form *f, const char *name)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (part_is(&f->p[i], name))
			return f->p[i].data;
	return NULL;
}

/* "a.mp3" of a file part ("file" when it has no name). */
void
form_fname(const struct part *pt, char *out, size_t osz)
{
	size_t n = pt->fl < osz - 1 ? pt->fl : osz - 1;

	memcpy(out, pt->fname, n);
	out[n] = '\0';
	if (n == 0)
		snprintf(out, osz, "file");
}

static int
same_name(const struct part *a, const struct part *b)
{
	return a->nl == b->nl && memcmp(a->name, b->name, a->nl) == 0;
}

static void
stats_part(yajl_gen y, const struct part *pt)
{
	if (!pt->file) {
		json_putn(y, pt->data, pt->len);
		return;
	}
	yajl_gen_map_open(y);
	json_put(y, "filename");
	json_putn(y, pt->fname, pt->fl);
	json_ki(y, "bytes", pt->len);
	json_put(y, "content_type");
	if (pt->ctype)
		json_putn(y, pt->ctype, pt->cl);
	else
		yajl_gen_null(y);
	yajl_gen_map_close(y);
}

/* Remember the parts of this request for /mock/stats (last_form); a
 * name given more than once gets an array. */
void
form_stats(const struct form *f)
{
	yajl_gen y = json_gen();
	size_t i, j, k;

	yajl_gen_map_open(y);
	for (i = 0; i < f->n; i++) {
		for (j = 0; j < i && !same_name(&f->p[j], &f->p[i]); j++)
			;
		if (j < i)
			continue;
		for (k = 0, j = i; j < f->n; j++)
			k += same_name(&f->p[j], &f->p[i]);
		json_putn(y, f->p[i].name, f->p[i].nl);
		if (k > 1)
			yajl_gen_array_open(y);
		for (j = i; j < f->n; j++)
			if (same_name(&f->p[j], &f->p[i]))
				stats_part(y, &f->p[j]);
		if (k > 1)
			yajl_gen_array_close(y);
	}
	yajl_gen_map_close(y);
	g.last_form.len = 0;
	json_take(y, &g.last_form);
	yajl_gen_free(y);
	g.have_form = 1;
}
