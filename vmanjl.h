/*
 * vmanjl: a Unix filter over JSON Lines for the VMAN (OpenAI-compatible) API.
 *
 * Shared types and prototypes, grouped by the file that defines them.
 */
#ifndef VMANJL_H
#define VMANJL_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <curl/curl.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

/*
 * The version is the top entry of debian/changelog, the one place to
 * change it; the Makefile passes it.  Built without it, any use of the
 * name below fails to compile.
 */
#ifndef VMANJL_VERSION
#define VMANJL_VERSION VMANJL_VERSION_is_set_by_the_Makefile
#endif

struct req;
struct pool;
struct sse_event;
struct taskstate;
struct failure;

/* buf.c */

/* A growable byte buffer; p is always NUL-terminated when len > 0. */
struct buf {
	char *p;
	size_t len, cap;
};

/* a + b of two counts (neither below 0), at most LLONG_MAX: a server's
 * token counts are not trusted to be small. */
static inline long long
count_add(long long a, long long b)
{
	return a > LLONG_MAX - b ? LLONG_MAX : a + b;
}

int buf_grow(struct buf *, size_t);
int buf_add(struct buf *, const void *, size_t);
void buf_put(struct buf *, const void *, size_t);
void buf_puts(struct buf *, const char *);
void buf_putc(struct buf *, int);
void buf_reset(struct buf *);
void buf_free(struct buf *);
void *xmalloc(size_t);
void *xgrow(void *, size_t *, size_t, size_t);
void *xcalloc(size_t, size_t);
char *xstrdup(const char *);
unsigned long long buf_hash(const void *, size_t, unsigned long long, int);

/* cache.c */

enum { CACHE_RW, CACHE_RO, CACHE_REFRESH, CACHE_OFFLINE };

struct cache {
	const char *dir;
	int mode;
};

void cache_material(struct buf *, const char *, const char *,
    const struct curl_slist *, const char *, size_t);
void cache_entry(struct buf *, const struct buf *, const struct buf *);
int cache_match(const char *, size_t, const struct buf *, struct buf *);
int cache_get(const struct cache *, const struct buf *, struct buf *);
void cache_put(const struct cache *, const struct buf *, const struct buf *);

/* The stream dialects: chat.c, responses.c, messages.c, gemini.c */

/*
 * What one chunk adds to one choice: each kind's text (for tool calls
 * the fragments' JSON, as sent), NULL where the chunk had none.  The
 * kinds are the delta record's members, in their order there.
 */
enum { DK_CONTENT, DK_REASONING, DK_REFUSAL, DK_TOOL_CALLS, NDK };
struct delta {
	long index;
	const char *p[NDK];
	size_t len[NDK];
};

/* Give d the text of b as its kind k. */
static inline void
delta_set(struct delta *d, int k, const struct buf *b)
{
	d->p[k] = b->p;
	d->len[k] = b->len;
}

/* A successful answer, each part compact JSON (empty when absent). */
struct result {
	struct buf body;
	struct buf content;	/* choice 0's text, chat and completions */
	struct buf finish;	/* choice 0's finish_reason */
	struct buf usage;
	struct buf task;	/* the normalised task */
	struct buf file;	/* a binary answer's file, as a JSON string */
	struct buf ctype;	/* and its content type, as a JSON string */
	long long bytes;
};

enum { CHAT_MORE, CHAT_DONE, CHAT_ERROR, CHAT_BAD };

/* U+FFFD, the replacement character, in UTF-8. */
#define UTF8_FFFD "\xef\xbf\xbd"

/*
 * chat.c and chatbody.c: a chat or completion answer as chat.c assembles
 * it over a stream, and chatbody.c writes it as the non-streamed body.
 */
#define CHAT_NF DK_TOOL_CALLS	/* a choice's texts: the kinds before it */
#define CHAT_NLP 6		/* its logprobs members: chat_lp[] */

/* A logprobs member: absent, present but not an array, an array. */
enum { LP_ABSENT, LP_OTHER, LP_ARRAY };

/* The array members of a choice's logprobs, each concatenated over the
 * stream as the official SDK does: content and refusal of a chat, the
 * four parallel arrays of a completion; key is chat.c's for the name. */
struct chat_lp {
	const char *name;
	int key;
};
extern const struct chat_lp chat_lp[CHAT_NLP];

struct chat_tool {
	long index;
	struct buf id, type, name, args;
};

/* One choice as assembled over the whole stream. */
struct chat_choice {
	int seen;
	struct buf text[CHAT_NF], finish;
	unsigned hi[CHAT_NF];	/* a high surrogate held back, or 0 */
	int lp;			/* a chunk had a logprobs object */
	unsigned char lps[CHAT_NLP];	/* LP_... of each member */
	struct buf lpv[CHAT_NLP];	/* the arrays' elements, joined */
	struct chat_tool *tools;
	size_t ntools;
};

/* The answer: the first non-empty top-level members, the choices by
 * index (ch[i].seen when the stream had choice i). */
struct chat_answer {
	struct buf id, object, created, model, fp, tier, usage;
	struct chat_choice *ch;
	size_t nch;
};

long chat_truncated(const struct chat_answer *);
void chat_write(const struct chat_answer *, struct result *);
int chat_body(const char *, size_t, struct result *, struct buf *);

/*
 * A stream dialect: how one API's event stream becomes delta records and,
 * at its end, the whole answer.  chat.c is the model; the endpoint table
 * says which dialect a path speaks.
 */
enum { DEC_OPEN, DEC_COMPLETE, DEC_TRUNCATED };

struct dialect {
	const char *name;
	const char *end;	/* the terminal event, for messages */
	void *(*open)(void (*)(void *, const struct delta *), void *);
	void (*reset)(void *);
	void (*close)(void *);
	/* Bytes of the current event's data as they arrive; 1, or 0 to
	 * stop. */
	int (*data)(void *, const char *, size_t);
	/* The event is complete: CHAT_MORE, CHAT_DONE (its terminal event),
	 * CHAT_ERROR (an error event: error() has its JSON) or CHAT_BAD
	 * (why in the buf). */
	int (*event)(void *, const struct sse_event *, struct buf *);
	const struct buf *(*error)(const void *);
	/* DEC_OPEN, DEC_COMPLETE or DEC_TRUNCATED (which part in *which). */
	int (*state)(const void *, long *);
	void (*result)(const void *, struct result *);
	/* A non-streamed answer: res's body, content, finish and usage;
	 * 0, or -1 when it is not JSON (why in the buf). */
	int (*body)(const char *, size_t, struct result *, struct buf *);
};

extern const struct dialect dialect_chat;

/* gemini.c */

extern const struct dialect dialect_gemini;

/* messages.c */

extern const struct dialect dialect_messages;

/* responses.c */

extern const struct dialect dialect_responses;

int responses_body(const char *, size_t, struct result *, struct buf *);

/* endpoints.c */

enum { EP_JSON, EP_BINARY, EP_MULTIPART, EP_TASK };

/*
 * How to follow an asynchronous task.  Paths are dotted ("data.task_id"),
 * with '*' for every element of an array or member of an object; the
 * poll template may use {id}, {path} (the submit path, where "../" steps
 * up) and {prefix} (the submit path before "/mj/").
 */
struct taskdesc {
	const char *name;
	const char *id;			/* the id in the submit answer */
	const char *code;		/* a business code in the submit answer */
	const char *const *code_ok;	/* its accepted values */
	const char *const *code_busy;	/* values that mean "not now" */
	const char *message;		/* the refusal's message */
	const char *poll;		/* the poll path or URL template */
	const char *poll_method;	/* NULL: GET */
	const char *poll_body;		/* a JSON template, or NULL */
	const char *content;		/* the finished task's file, or NULL */
	const char *object;		/* the task in a poll answer; NULL: all */
	const char *status;		/* these paths are within the object */
	const char *const *done;
	const char *const *failed;
	const char *const *cancelled;
	const char *progress;
	double progress_max;		/* 0: 1 (a "NN%" string is percent) */
	const char *const *urls;
	const char *error;		/* why a task failed */
};

struct endpoint {
	const char *pattern;		/* fnmatch(3) over the URL's path */
	const char *method;		/* NULL: any */
	int mode;
	const char *group;
	const struct taskdesc *task;
	const char *header;		/* a header the service requires */
	const char *source;	/* "relay": new-api's source; "fork": a
				 * fork's docs; "guess" */
	const struct dialect *dialect;	/* what its streams speak */
};

const struct endpoint *ep_lookup(const char *, const char *);
void ep_print(FILE *);

/* fail.c */

/* Why a request attempt failed. */
struct failure {
	long status;		/* HTTP status; 0: no HTTP answer */
	const char *kind;	/* our class of failure, e.g. "http_error" */
	struct buf message;	/* JSON string: the server's message, or ours */
	struct buf type;	/* JSON: the server's error type, else kind */
	struct buf code;	/* JSON: the server's error code, or empty */
	struct buf body;	/* JSON: the server's error body, or empty */
	struct buf task;	/* JSON: the normalised task, or empty */
	int retryable;
	long long wait_ms;	/* the server's Retry-After; -1: none */
};

void fail_set(struct failure *, long, const char *, int, const char *, ...);
void fail_free(struct failure *);
void fail_transfer(struct failure *, CURLcode, CURL *, const char *,
    size_t);
void fail_from_body(struct failure *, long, const char *, size_t,
    const char *, struct buf *);
void fail_from_stream(struct failure *, long, const char *, size_t,
    struct buf *);

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
	struct buf files;	/* form field, NUL, path, NUL, ... */
	size_t nfiles;
	int form;		/* the envelope has "files", maybe empty */
	struct buf output;	/* where a binary answer goes; empty: default */
	const char *task;	/* the task descriptor object, inside line */
	size_t task_len;
	int notask;		/* "task": false */
	int envelope;
};

struct input;

/* What in_next() found. */
enum in_status { IN_ERROR = -1, IN_END, IN_LINE, IN_LONG, IN_WAIT };

struct input *in_open(char **, int);
enum in_status in_next(struct input *, size_t, const char **, size_t *,
    unsigned long *);
unsigned long in_count_lines(char **, int);
int in_fd(const struct input *);
void in_close(struct input *);
int in_parse(const char *, size_t, struct spec *, struct buf *);
void in_spec_free(struct spec *);
const char *in_url_problem(const char *);

/* io.c */

long long io_now_ms(void);
int io_write_all(int, const void *, size_t);
int io_secret_header(const char *);

/* jevent.c */

#define JEV_MAXD 16	/* the key stack's depth: deeper than any path */

/* A key a dialect follows, and its number (non-zero; 0 is "other"). */
struct jev_name {
	const char *name;
	size_t len;
	int key;
};

#define JEV_NAME(s, k) { s, sizeof(s) - 1, k }
#define NKEYS(t) (sizeof (t) / sizeof (t)[0])

/* What a dialect follows and is told, each hook with its own ctx; any
 * hook may be NULL. */
struct jev_hooks {
	/* A container begins at the current key path: '{' or '['. */
	void (*begin)(void *, int);
	/* A scalar: 's' string (as sent), 'n' number, '0' null, 'b'
	 * boolean, with its text; called before it is captured. */
	void (*scalar)(void *, int, const char *, size_t);
	/* A key at the current depth, after it is looked up. */
	void (*key)(void *, const unsigned char *, size_t);
	/* A container ended, depth back at its key's; 0 refuses. */
	int (*end)(void *);
	/* The depths (bit d: depth d) at which begin, end and key are
	 * called, as the depth is when they are. */
	unsigned begin_at, end_at, key_at;
	/* The keys it follows, looked up down to depth deep. */
	const struct jev_name *names;
	size_t nnames;
	int deep;
};

#define JEV_AT(d) (1u << (d))

/* The walk over one event's data; a dialect reads depth and key[]. */
struct jev {
	yajl_handle h;
	const struct jev_hooks *hk;
	void *ctx;

	int depth;
	int key[JEV_MAXD + 1];
	int bad;		/* this event is not a JSON object */
	int values;		/* objects completed in this event */
	int started;		/* this event's first byte has been seen */

	yajl_gen cap;		/* capture of a raw value */
	struct buf tmp;		/* a captured string made valid UTF-8 */
	int capdepth;		/* -1 when idle */
	struct buf *capto;
	const char *in;		/* the piece being parsed */
};

enum { JEV_EMPTY, JEV_ONE, JEV_BAD };

void jev_init(struct jev *, const struct jev_hooks *, void *);
void jev_reset(struct jev *);
void jev_free(struct jev *);
int jev_data(struct jev *, const char *, size_t);
int jev_feed(void *, const char *, size_t);
void jev_next(struct jev *);
int jev_end(struct jev *, const char *, size_t, struct buf *);
void jev_cap_start(struct jev *, struct buf *);
void jev_cap_drop(struct jev *);
long jev_index(const char *, size_t, long);

/* json.c */

#define JSON_MAXPICK 16

/* A value to pick out of a JSON text by its dotted path ("a.0.b"). */
struct jpick {
	const char *path;
	struct buf val;		/* compact JSON of the value; empty if absent */
};

int json_compact(const char *, size_t, struct buf *, struct jpick *, size_t,
    struct buf *);
int json_ends_in_string(const char *, size_t);
void json_error(yajl_handle, const char *, size_t, int, const char *,
    struct buf *);
int json_members(const char *, size_t,
    void (*)(void *, const char *, size_t, const char *, size_t), void *);
void json_str(struct buf *, const char *, size_t);
size_t json_utf8_check(const char *, size_t);
const unsigned char *json_utf8_clean(const unsigned char *, size_t *,
    struct buf *);
long long json_text_chars(const char *, size_t);
void json_picks_free(struct jpick *, size_t);
long long json_int(const struct buf *);

/* out.c */

enum { FMT_VMANJL, FMT_BATCH };

/* What out.c knows of a request: who it is, what its records say of
 * its attempts and times, and where its records wait. */
struct outreq {
	unsigned long line;
	struct buf cid;		/* custom_id as JSON; empty: null */
	struct buf request_id;	/* JSON string; empty: none */
	int attempts;		/* HTTP requests made for this line */
	int tries;		/* attempts at the current step */
	long nevents;		/* --events: events written; -1 otherwise */
	long long t_start;	/* the first attempt's start, ms */
	long long t_first;	/* the first delta, ms */
	struct buf *capture;	/* records for its cache entry, or NULL */
	int in_event;		/* deltas wait in evq until the event ends */
	struct buf evq;
	struct buf held;	/* -k: records waiting for their turn */
	struct outreq *onext;	/* in the -k output order */
	int finished;
	void *owner;		/* the caller's request */
};

struct out {
	int fd;
	int format;
	int keep;
	struct buf buf;		/* whole records waiting to be written */
	struct buf rec;		/* the record being built */
	const char *rec_type;	/* its type */
	size_t rec_body;	/* where its text after custom_id starts */
	struct outreq *head, *tail;	/* -k: requests in input order */
	size_t pending;		/* admitted and not yet written */
	int timing;		/* --timing */
	size_t cut;		/* where timing fields start; 0: none */
};

void out_init(struct out *, int, int);
void out_free(struct out *);
void out_flush(struct out *);
int out_replay(struct out *, struct outreq *, const struct buf *);
void out_delta(struct out *, struct outreq *, const struct delta *);
void out_event(struct out *, struct outreq *, const struct sse_event *);
void out_retry(struct out *, struct outreq *, const struct failure *,
    long long);
void out_progress(struct out *, struct outreq *, const struct taskstate *);
void out_request(struct out *, struct outreq *, const struct buf *,
    long long);
void out_response(struct out *, struct outreq *, long, const struct result *,
    long long);
void out_error(struct out *, struct outreq *, const struct failure *,
    long long);
void out_commit(struct out *, struct outreq *);
void out_admit(struct out *, struct outreq *);
struct outreq *out_finish(struct out *, struct outreq *);

/* pace.c */

/* Request starts of the last minute, for --rpm and --tpm. */
struct pace {
	long rpm, tpm;		/* 0: no limit */
	long long *starts;	/* the last rpm start times, a ring */
	size_t nstart;
	long long *tok_t, *tok_n;	/* starts and their tokens, a queue */
	size_t head, len, cap;
	long long sum;
	long long cool_until;	/* after a 429 nobody starts before */
};

void pace_init(struct pace *, long, long);
void pace_free(struct pace *);
long long pace_tokens(const char *, size_t);
long long pace_when(const struct pace *, long long, long long);
void pace_start(struct pace *, long long, long long);
void pace_cool(struct pace *, long long);

/* resume.c */

struct keyset;

struct keyset *resume_keyset_new(void);
unsigned long resume_keyset_add(struct keyset *, const char *, unsigned long);
int resume_keyset_has(const struct keyset *, const char *);
void resume_keyset_free(struct keyset *);
void resume_key(struct buf *, const struct buf *, unsigned long);
int resume_done(const char *, size_t, struct buf *, struct buf *);
struct keyset *resume_load(const char *);

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

/* task.c */

enum {
	TASK_RUNNING, TASK_DONE, TASK_FAILED, TASK_CANCELLED, TASK_NOTFOUND,
	TASK_REFUSED, TASK_BAD, TASK_BUSY
};

/* Where a task stands, as far as its last answer told. */
struct taskstate {
	struct buf id;
	struct buf status;	/* the vendor's status value */
	double progress;	/* 0..1; -1: unknown */
	int phase;		/* TASK_RUNNING ... TASK_CANCELLED */
	int submitted;		/* not polled yet */
	int changed;		/* the last answer moved status or progress */
	int polls;
	struct buf urls;	/* JSON array of result URLs */
	struct buf raw;		/* JSON: the vendor's task object */
	struct buf reason;	/* why it failed, as the vendor says */
};

const struct taskdesc *task_desc(const struct taskdesc *, const char *,
    size_t, struct buf *);
void task_free(const struct taskdesc *);
int task_submit(const struct taskdesc *, const char *, size_t,
    struct taskstate *, struct buf *);
void task_url(const char *, const char *, const struct taskstate *,
    struct buf *);
void task_poll(const struct taskdesc *, const char *,
    const struct taskstate *, struct buf *, struct buf *);
int task_update(const struct taskdesc *, long, const char *, size_t,
    struct taskstate *, struct buf *);
void task_json(const struct taskstate *, int, struct buf *);
void task_state_free(struct taskstate *);

/* save.c */

/* A binary answer on its way to a file. */
struct save {
	int fd;			/* the temporary file; -1: none */
	struct buf tmpname, outname;
};

int save_is_binary(const struct buf *);
int save_open(struct save *, const char *, const char *, const struct buf *,
    unsigned long, const char *, struct buf *);
int save_write(struct save *, const char *, size_t, struct buf *);
int save_finish(struct save *, struct buf *);
void save_discard(struct save *);
void save_free(struct save *);

/* url.c */

int url_absolute(const char *);
char *url_join(const char *, const char *);
void url_resolve(struct buf *, const char *);
int url_path(const char *, struct buf *);
void url_put_id(struct buf *, const char *);

/* ---------------------------------------------------------------- */
/* The run, its pool and its requests: vmanjl.c, pool.c, request.c */

/* The run's settings, from the options and the environment. */
struct conf {
	const char *base;	/* base URL, no trailing slash */
	char *key;
	const char *endpoint;
	struct curl_slist *user_headers;
	const char *cacert;
	int insecure;
	int jobs;
	int keep;
	size_t window;
	int format;
	int events;
	int retries;
	long backoff_ms;
	long connect_ms, timeout_ms, idle_ms;
	size_t max_response;
	int quiet, verbose, progress;
	int no_wait;
	long poll_ms, task_timeout_ms;
	const char *out_dir;
	struct cache cache;	/* dir NULL: no cache */
	const char *resume;	/* --resume FILE */
	int dry_run, timing;
	long rpm, tpm;		/* 0: no limit */
	unsigned long max_errors;	/* 0: no limit */
};

/* Everything in flight, and the run's counts. */
struct pool {
	const struct conf *conf;
	CURLM *multi;
	struct out out;
	struct curl_slist *common;	/* headers every request sends */
	struct curl_slist *common_form;	/* the same without Content-Type */
	struct req *waitq;		/* retries, soonest first */
	struct req *live;		/* every admitted, unfinished request */
	size_t active;			/* requests in live */
	CURL **spare;			/* easy handles for reuse */
	size_t nspare;
	struct result res;
	struct buf msg;
	unsigned long long rng;
	unsigned long nreq, nok, nerr, nretry, nhit, nmiss, nskip;
	struct pace pace;		/* --rpm, --tpm, the 429 cool-down */
	unsigned long total;		/* input lines, when known */
	long long est_tokens;		/* --dry-run */
	struct keyset *done;		/* --resume: requests done before */
	struct keyset *seen;		/* --resume: custom_ids of the input */
	struct buf key;
	long long ptok, ctok;
	unsigned long nunknown;		/* answers that gave no usage */
	unsigned long nintr;		/* requests ended by a signal */
	int stopped;			/* --max-errors: no more lines read */
	unsigned long last_line;	/* the last line read */
	long long now;			/* ms, as of this turn of the loop */
	long long start_ms, last_progress, last_idle_check;
	int shown_progress;
};

/* One request, from admission to its terminal record. */
struct req {
	struct pool *pool;
	struct outreq o;	/* what out.c knows of it */
	struct req *next;	/* in the retry queue */
	struct req *lprev, *lnext;	/* in the list of live requests */
	char *url;
	char *method;		/* NULL: POST */
	char *body;		/* NULL: none */
	size_t body_len;
	struct curl_slist *headers;	/* NULL: the common headers */
	struct buf files;	/* form field, NUL, path, NUL, ... */
	size_t nfiles;
	int form;		/* sent as multipart/form-data */
	curl_mime *mime;
	char *output;		/* where a binary answer goes; NULL: default */
	struct save save;	/* a binary answer's file */

	/* An asynchronous task. */
	const struct taskdesc *task;
	int own_task;		/* task is the request's own: free it */
	int polling;
	int fetching;		/* the finished task's content is on its way */
	char *path;		/* the envelope's url (or -e), as given */
	struct taskstate ts;
	long long deadline, notfound_until;
	long long due;		/* when a waiting retry starts, in ms */
	long long last_rx;	/* when a byte last arrived, in ms */
	int running;		/* the transfer is on the multi handle */
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];

	/* The current attempt. */
	long status;		/* 0 until the body starts */
	long head_status;	/* the last status line's code */
	int rx_started;		/* a byte of the answer has come */
	long events;		/* events dispatched */
	size_t assembled;	/* bytes of the stream's deltas so far */
	size_t bytes;		/* of the answer's body */
	size_t event_start;	/* bytes when the current event began */
	int sse_mode;		/* the answer is an event stream */
	int stopped;		/* a callback ended the transfer: see fail */
	struct buf resp;
	struct buf ctype;
	long long retry_after_ms;
	long long reset_ms;	/* x-ratelimit-reset-*, on a 429 */
	struct sse *sse;
	const struct dialect *dialect;	/* NULL: streams as event records */
	void *dec;		/* the dialect's decoder */
	struct failure fail;

	struct buf material;	/* the request as the cache knows it */
	struct buf capbuf;

};

/* answer.c */

enum { ANSWER_OK, ANSWER_FAIL };

void answer_begin(struct req *);
size_t answer_write(char *, size_t, size_t, void *);
size_t answer_header(char *, size_t, size_t, void *);
int answer_end(struct req *, CURLcode, struct result *);

/* pool.c */

void pool_init(struct pool *, const struct conf *);
int pool_run(struct pool *, struct input *);
void pool_progress(struct pool *, int);
int pool_interrupted(void);
void pool_free(struct pool *);

/* request.c */

struct req *req_new(struct pool *, unsigned long);
struct req *req_from_spec(struct pool *, unsigned long, const struct spec *,
    struct buf *);
struct curl_slist *req_common_headers(const struct conf *, int);
void req_setopt(struct req *, CURL *);
void req_release(struct req *);
void req_free(struct req *);
void req_describe(const struct req *, const struct curl_slist *,
    struct buf *, struct buf *);

/* task.c: a request's task, step by step */

enum {
	TASK_STEP_DONE, TASK_STEP_POLL, TASK_STEP_FETCH, TASK_STEP_FAILED,
	TASK_STEP_ANSWER
};

int task_step(struct req *, struct result *, long long, struct buf *);


#endif
