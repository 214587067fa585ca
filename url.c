/*
 * url.c: URLs through libcurl's URL API.  A request's path is joined to
 * the base URL, a task's poll template is resolved against the URL it
 * was submitted to, and ids are escaped for a path segment; libcurl's
 * parser resolves "." and ".." segments, so a template may climb out of
 * the submit path ("{path}/../{id}").
 */
#include <err.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "vmanjl.h"

/* Is u an http(s) URL rather than a path? */
int
url_absolute(const char *u)
{
	return strncasecmp(u, "http://", 7) == 0 ||
	    strncasecmp(u, "https://", 8) == 0;
}

/* Set u on h (resolved against what h holds) and replace b with the
 * result; b stays as it was when libcurl cannot parse it. */
static void
normalise(CURLU *h, struct buf *b)
{
	char *s;

	if (curl_url_set(h, CURLUPART_URL, b->p, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &s, 0) != CURLUE_OK)
		return;
	buf_reset(b);
	buf_puts(b, s);
	curl_free(s);
}

/* Has URL u a "." or ".." segment in its path? */
static int
dot_segment(const char *u)
{
	size_t n = strcspn(u, "?#");
	const char *p;

	for (p = u; (p = memchr(p, '/', (size_t)(u + n - p))); p++)
		if (p[1] == '.' && (p + 2 == u + n || p[2] == '/' ||
		    (p[2] == '.' && (p + 3 == u + n || p[3] == '/'))))
			return 1;
	return 0;
}

/*
 * The URL of path or URL u under base: an http(s) URL as it is, else
 * base and u joined (a base ending in /v1 and a path starting with /v1/
 * share the /v1), with dot segments resolved by libcurl's URL parser.
 * The caller frees it.
 */
char *
url_join(const char *base, const char *u)
{
	struct buf b = { 0 };
	size_t n = strlen(base);
	CURLU *h;

	if (!url_absolute(u)) {
		if (n >= 3 && strcmp(base + n - 3, "/v1") == 0 &&
		    (strncmp(u, "/v1/", 4) == 0 || strcmp(u, "/v1") == 0))
			n -= 3;
		buf_put(&b, base, n);
	}
	buf_puts(&b, u);
	/* Only a path with "." or ".." segments needs libcurl's parser: the
	 * rest is sent as written, without a parse per request. */
	if (!dot_segment(b.p))
		return b.p;
	if (!(h = curl_url()))
		err(2, "out of memory");
	normalise(h, &b);
	curl_url_cleanup(h);
	return b.p;
}

/* Resolve the path or URL in ref against URL base, as a link in a page
 * at base would be: "/x" keeps base's scheme, host and port. */
void
url_resolve(struct buf *ref, const char *base)
{
	CURLU *h;

	if (!(h = curl_url()))
		err(2, "out of memory");
	if (curl_url_set(h, CURLUPART_URL, base, 0) == CURLUE_OK)
		normalise(h, ref);
	curl_url_cleanup(h);
}

/* The path of URL u, without query or fragment, into b; 0, or -1 when
 * libcurl cannot parse u. */
int
url_path(const char *u, struct buf *b)
{
	CURLU *h;
	char *s;
	int rc = -1;

	if (!(h = curl_url()))
		err(2, "out of memory");
	if (curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_PATH, &s, 0) == CURLUE_OK) {
		buf_reset(b);
		buf_puts(b, s);
		curl_free(s);
		rc = 0;
	}
	curl_url_cleanup(h);
	return rc;
}

/* Append id as one path segment: percent-encoded but for letters,
 * digits and "-._~"; "." and ".." encoded too, or they would move the
 * URL. */
void
url_put_id(struct buf *b, const char *id)
{
	char *s;

	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
		buf_puts(b, id[1] ? "%2E%2E" : "%2E");
		return;
	}
	if (!(s = curl_easy_escape(NULL, id, 0)))
		err(2, "out of memory");
	buf_puts(b, s);
	curl_free(s);
}
