/*
 * vmanjl: a Unix filter over JSON Lines for the VMAN (OpenAI-compatible) API.
 *
 * Shared types and prototypes, grouped by the file that defines them.
 */
#ifndef VMANJL_H
#define VMANJL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <yajl/yajl_parse.h>

#define VMANJL_VERSION "0.1.0"

struct req;
struct pool;
struct sse_event;

/* buf.c */

/* A growable byte buffer; p is always NUL-terminated when len > 0. */
struct buf {
	char *p;
	size_t len, cap;
};

int buf_grow(struct buf *, size_t);
int buf_add(struct buf *, const void *, size_t);
int buf_adds(struct buf *, const char *);
void buf_put(struct buf *, const void *, size_t);
void buf_puts(struct buf *, const char *);
void buf_putc(struct buf *, int);
void buf_reset(struct buf *);
void buf_free(struct buf *);
void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
char *xstrdup(const char *);

/* chat.c */

/* What one chunk adds to one choice; absent parts are NULL. */
struct delta {
	long index;
	const char *content;
	size_t content_len;
	const char *reasoning;
	size_t reasoning_len;
	const char *tool_calls;	/* the fragments' JSON, as sent */
	size_t tool_calls_len;
};

/* A successful answer, each part compact JSON (empty when absent). */
struct result {
	struct buf body;
	struct buf content;	/* choice 0's text, chat and completions */
	struct buf finish;	/* choice 0's finish_reason */
	struct buf usage;
};

enum { CHAT_MORE, CHAT_DONE, CHAT_ERROR, CHAT_BAD };

struct chat;

struct chat *chat_new(void (*)(void *, const struct delta *), void *);
void chat_reset(struct chat *);
void chat_free(struct chat *);
int chat_data(struct chat *, const char *, size_t);
int chat_event(struct chat *, const char *, size_t, struct buf *);
const struct buf *chat_error(const struct chat *);
int chat_done(const struct chat *);
void chat_result(const struct chat *, struct result *);

/* input.c */

/* What one input line asks for. */
struct spec {
	const char *line;	/* the line itself */
	struct buf cid;		/* custom_id as JSON text; empty: null */
	struct buf method;	/* empty: POST */
	struct buf url;		/* path or URL; empty: the default endpoint */
	struct buf headers;	/* "Name: value" strings, each NUL-ended */
	size_t nheaders;
	const char *body;	/* the body's bytes, inside line; NULL: none */
	size_t body_len;
	int stream;		/* the body says "stream": true */
	int envelope;
};

struct input;

struct input *in_open(char **, int);
int in_next(struct input *, size_t, const char **, size_t *,
    unsigned long *);
int in_fd(const struct input *);
void in_close(struct input *);
int in_parse(const char *, size_t, struct spec *, struct buf *);
void in_spec_reset(struct spec *);
void in_spec_free(struct spec *);
const char *in_url_problem(const char *);

/* json.c */

#define JSON_MAXPICK 16

/* A value to pick out of a JSON text by its dotted path ("a.0.b"). */
struct jpick {
	const char *path;
	struct buf val;		/* compact JSON of the value; empty if absent */
};

int json_compact(const char *, size_t, struct buf *, struct jpick *, size_t,
    struct buf *);
void json_error(yajl_handle, const char *, size_t, int, const char *,
    struct buf *);
void json_str(struct buf *, const char *, size_t);
void json_picks_free(struct jpick *, size_t);
long long json_int(const struct buf *);

/* out.c */

enum { FMT_VMANJL, FMT_BATCH };

/* Why a request attempt failed. */
struct failure {
	long status;		/* HTTP status; 0: no HTTP answer */
	const char *kind;	/* our class of failure, e.g. "http_error" */
	struct buf message;	/* JSON string: the server's message, or ours */
	struct buf type;	/* JSON: the server's error type, else kind */
	struct buf code;	/* JSON: the server's error code, or empty */
	struct buf body;	/* JSON: the server's error body, or empty */
	int retryable;
	long long wait_ms;	/* the server's Retry-After; -1: none */
};

struct out {
	int fd;
	int format;
	int keep;
	struct buf buf;		/* whole records waiting to be written */
	struct buf rec;		/* the record being built */
	struct req *head, *tail;	/* -k: requests in input order */
	size_t pending;		/* admitted and not yet written */
};

void out_init(struct out *, int, int);
void out_free(struct out *);
void out_flush(struct out *);
void out_delta(struct out *, struct req *, const struct delta *);
void out_event(struct out *, struct req *, const struct sse_event *);
void out_retry(struct out *, struct req *, const struct failure *,
    long long);
void out_response(struct out *, struct req *, long, const struct result *);
void out_error(struct out *, struct req *, const struct failure *);
void out_commit(struct out *, struct req *);
void out_admit(struct out *, struct req *);
void out_finish(struct out *, struct req *);

/* sse.c */

/* One dispatched event; pointers are valid only during the callback. */
struct sse_event {
	const char *type;	/* "message" when the event had no event field */
	size_t type_len;
	const char *data;	/* data lines joined with LF, no final LF */
	size_t data_len;
	const char *id;		/* the last event id (persists across events) */
	size_t id_len;
};

/* Callbacks return 1 to go on, 0 to stop the parser. Either may be NULL. */
struct sse_callbacks {
	/* Bytes of the current event's data as they arrive: the value of
	 * each data line, with one LF between successive data lines. */
	int (*sse_data)(void *ctx, const char *p, size_t n);
	/* A complete event, dispatched at its terminating blank line. */
	int (*sse_event)(void *ctx, const struct sse_event *ev);
};

struct sse;

struct sse *sse_new(const struct sse_callbacks *, void *ctx);
int sse_feed(struct sse *, const char *, size_t);
int sse_end(struct sse *);
void sse_reset(struct sse *);
void sse_free(struct sse *);

/* vmanjl.c */

/* One request, from admission to its terminal record. */
struct req {
	struct pool *pool;
	struct req *next;	/* in the retry queue */
	struct req *lprev, *lnext;	/* in the list of live requests */
	struct req *onext;	/* in the -k output order */
	unsigned long line;
	struct buf cid;		/* custom_id as JSON; empty: null */
	char *url;
	char *method;		/* NULL: POST */
	char *body;		/* NULL: none */
	size_t body_len;
	struct curl_slist *headers;	/* NULL: the common headers */
	int stream;
	int attempts;
	long long due;		/* when a waiting retry starts, in ms */
	long long last_rx;	/* when a byte last arrived, in ms */
	int running;		/* the transfer is on the multi handle */
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];

	/* The current attempt. */
	long status;
	size_t bytes;		/* of the answer's body */
	size_t event_start;	/* bytes when the current event began */
	int sse_mode;		/* the answer is an event stream */
	int stopped;		/* a callback ended the transfer: see fail */
	long nevents;		/* --events: events written; -1 otherwise */
	struct buf resp;
	struct buf ctype;
	struct buf request_id;
	long long retry_after_ms;
	struct sse *sse;
	struct chat *chat;
	struct failure fail;
	int in_event;		/* deltas wait in evq until the event ends */
	struct buf evq;

	struct buf held;	/* -k: records waiting for their turn */
	int finished;
};

void req_free(struct req *);

#endif
