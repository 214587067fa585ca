/*
 * mock.h: the types and functions shared by the files of t/mockvman,
 * the local VMAN server of the tests (its specification: t/mockvman.md).
 */
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define MAX_BODY	(256UL << 20)	/* largest request body */
#define MAX_HEAD	(64 << 10)	/* largest request head */
#define MAX_DEPTH	512		/* deepest JSON nesting accepted */
#define MAX_CHOICES	8
#define READ_SZ		8192		/* free room wanted before a read */
#define LOWAT		(128 << 10)	/* produce output only below this */
#define PAD_UNIT	(64 << 10)	/* "x" padding made per step */
#define IN_CAP		(1 << 20)	/* input buffered while answering */
#define TRIM_CAP	(256 << 10)	/* free idle buffers above this */
#define LINGER_MS	2000		/* wait this long for the FIN */
#define ID_BUCKETS	1024
#define STARTS_MAX	10000	/* request starts kept for /mock/stats */
#define CREATED		"1700000000"
#define BADCHUNK	"zz; not a chunk size\r\n"
#define MOCK_RELAY_VERSION	"v0.9.0-mock"	/* X-New-Api-Version */

struct buf {
	char *p;
	size_t len, cap;
};

enum { CS_OPEN, CS_LINGER, CS_STALL };
enum { CL_NONE, CL_GRACEFUL, CL_ABRUPT, CL_RST, CL_STALL };
enum { RQ_HEAD, RQ_BODY, RQ_CSIZE, RQ_CDATA, RQ_CCRLF, RQ_TRAILER, RQ_NONE };
enum { FR_LENGTH, FR_CHUNKED, FR_CLOSE };
enum { SRC_FIXED, SRC_SSE };
enum { U_DATA, U_BLOCK, U_END, U_CLOSE, U_STALL, U_BADCHUNK };
enum { F_MORE, F_FLUSH, F_BLOCK, F_DONE };
enum { P_FULL, P_FLUSH, P_IDLE };
enum { K_CHAT, K_CMPL };
enum { PH_ROLE, PH_REASON, PH_CONTENT, PH_FINISH, PH_USAGE, PH_DONE, PH_END };
enum { FX_HEAD, FX_PAD, FX_TAIL };

/* The steering members of a request; strings point into the parse tree,
 * so a struct mock lives only while its request is dispatched. */
struct mock {
	const char *id, *raw, *ctype, *retry_after, *content, *eol;
	const char *relay_error;
	yajl_val body, headers, bare_error;
	long long fail_first, retry_after_ms, delay_ms, event_delay_ms;
	long long close_after, stall_after, bad_data, error_event;
	long long bad_chunked, chunk, chunk_delay_ms, repeat, size;
	long long pings, ping_ms;
	int status, reset, no_done, comments, bom, http10, invalid_utf8;
	int cut_finish;
};

struct conn;

/* Per-answer state, zeroed before each answer. */
struct rstate {
	int active, http10, close, framing, src, hdr_done, reset;
	int64_t hdr_at, pc_at, ev_at, ev_ms, piece_ms;
	size_t spos, piece;
	/* fixed body: head, pad "x" bytes, tail; limit: bytes before act */
	int fx, limit_act;
	size_t off, pad, sent;
	long long limit;
	/* generated stream */
	int kind, n, reason, tools, usage, no_done, comments, bom, bom_done;
	int bad_done, err_done, ph, ci, cut_finish, bare;
	long long pings, ping_ms, npings;
	int64_t ping_at;
	const char *eol;
	size_t eol_len;
	size_t base[MAX_CHOICES], cnt[MAX_CHOICES], pos[MAX_CHOICES];
	size_t rcnt[MAX_CHOICES], rpos[MAX_CHOICES];
	const char *fin[MAX_CHOICES];
	size_t k, kmax, tpos, npieces;
	unsigned long long ptok, ctok;
	long long nev, close_after, stall_after, bad_data, error_event;
	long long bad_chunked;
	unsigned long long cwtok, crtok;	/* Messages: cache tokens */
	int blk;			/* Messages: the block streamed */
	int (*next)(struct conn *);	/* the stream's maker */
};

/* An answer in progress; the buffers are kept for reuse. */
struct resp {
	struct buf hdr, stage, head, tail, id, model, rtext, tname, targs;
	struct buf xhdr, stopseq, bare;
	struct buf text[MAX_CHOICES];
	char rid[40];		/* X-Oneapi-Request-Id of this answer */
	struct rstate s;
	yajl_gen y;		/* the JSON writer of chats and completions */
};

/* One client connection.  Request offsets are relative to ipos, the
 * start of the request being read, so the input may be compacted. */
struct conn {
	int fd, state, closing, dead, rd_eof;
	int64_t wake;
	struct buf in, out;
	size_t ipos, opos;
	int rq, http10, conn_close, chunked, expect, authok;
	size_t lstart, scan, hlen, clen, bpos, blen, csize;
	size_t moff, mlen, toff, tlen, hoff;
	struct resp r;
};

struct idrec {
	struct idrec *next, *order;
	unsigned long long count;
	char name[];
};

/* An asynchronous task of a service family: its status moves one step
 * on per poll (see mockvman.md). */
struct task {
	struct task *hnext, *next;
	int fam, kind, fail, cancel, modal, killed;
	int vendor, legacy_url, url_at, image_urls;	/* shapes (tmock) */
	long long steps, nf, step, polls, num;
	long long submit_ms, start_ms, finish_ms;
	unsigned long long ord;
	char *prompt, *model, *title, *tags, *hook, *state, *input, *extra;
	char id[];
};

/* The server's state: the sockets, the statistics, the tasks. */
struct mockg {
	int lfd, port, sigfd[2];
	const char *key;
	int64_t now, accept_at;
	struct conn **conns;
	struct pollfd *pfd;
	size_t nconns, capconns;
	unsigned long long requests;
	struct idrec *bucket[ID_BUCKETS], *ids, **ids_tail;
	struct buf last_head, last_meth, last_path, last_query, last_form;
	size_t last_body;
	int have_form;
	struct task *tbucket[ID_BUCKETS], *tasks, **tasks_tail;
	unsigned long long ntasks, answers;
	int64_t t0, starts[STARTS_MAX];	/* the start log, a ring */
	unsigned long long nstarts;
	char xs[PAD_UNIT], scratch[65536];
};


/* One part of a multipart/form-data body.  name, fname and ctype point
 * into the part's head (not NUL-terminated); data is NUL-terminated in
 * place once the whole body is parsed. */
struct part {
	const char *name, *fname, *ctype;
	size_t nl, fl, cl, len;
	char *data;
	int file;
};

struct form {
	struct part *p;
	size_t n, cap;
	int bad;
};

/* The task steering members of a request (see mockvman.md). */
struct tmock {
	long long steps, nf, mj_code, kling_code;
	int fail, cancel;
	int vendor, legacy_url, url_at, image_urls;	/* shapes, not faults */
};

/* Where a finished OpenAI-style video keeps its URL (mock.video_url_at);
 * how a Midjourney task lists its images (mock.image_urls). */
enum { UA_METADATA, UA_OUTPUT, UA_TOP };
enum { IU_NONE, IU_STRINGS, IU_OBJECTS };

/* A request while it is dispatched: raw is its path as sent (without
 * the query), path the one its route saw; root, mtree and the form
 * point into the input buffer or are freed after. */
struct req {
	struct conn *c;
	const char *meth, *raw, *path, *query, *head;
	size_t mlen, rawlen, plen, qlen, hlen, blen;
	char *body;
	yajl_val root, mtree;
	struct form f;
	int multipart, status;
	struct mock m;
	struct tmock tm;
	unsigned long long seq;
	const char *cap[2];
	size_t capn[2];
	yajl_gen y;
};

/* The task families and where a task stands. */
enum { FAM_MJ, FAM_SUNO, FAM_SUNONA, FAM_FLUX, FAM_KLING, FAM_LUMA,
	FAM_RUNWAY, FAM_COGV, FAM_VIGGLE, FAM_IDEO, FAM_VIDEO, FAM_OVIDEO,
	FAM_N };
enum { TP_PRE, TP_RUN, TP_DONE, TP_FAIL, TP_CANCEL, TP_MODAL };

#define FAIL_REASON	"mock: task failed"

/* The arguments of the vendor routes. */
enum { MJS_IMAGINE, MJS_BLEND, MJS_DESCRIBE, MJS_SHORTEN, MJS_MODAL,
	MJS_ACTION, MJS_SWAP, MJS_VIDEO };
enum { SK_V35, SK_V30, SK_CONCAT, SK_MUSIC, SK_LYRICS };
enum { KL_IMG, KL_T2V, KL_I2V };
enum { VG_UPVIDEO, VG_UPIMAGE, VG_MIX, VG_MULTI, VG_MOVE };
enum { IR_DESCRIBE, IR_GENERATE, IR_BLEND, IR_UPSCALE };
/* The rows of vend_poll: a task family (Kling's: a kind) each. */
enum { PF_MJ, PF_SUNO, PF_SUNONA, PF_FLUX, PF_KLING_IMG, PF_KLING_T2V,
	PF_KLING_I2V, PF_LUMA, PF_RUNWAY, PF_COGV, PF_VIGGLE, PF_IDEO,
	PF_VIDEO, PF_OVIDEO };

typedef void svc_fn(struct req *, int);

extern struct mockg g;
extern const struct mock nomock;

/* mock-buf.c */
int buf_try(struct buf *b, size_t n);
void buf_grow(struct buf *b, size_t n);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addu(struct buf *b, unsigned long long v);
void buf_addi(struct buf *b, long long v);
void buf_trim(struct buf *b, size_t keep);
void buf_free(struct buf *b);

/* mock-util.c */
int64_t util_mono_ms(void);
long long util_clamp(long long v, long long lo, long long hi);
unsigned long long util_words(const char *s);
uint64_t util_mix64(uint64_t x);
int util_path_is(const char *p, size_t n, const char *s);
char *util_strdup(const char *s);
int util_nonempty(const char *s);
long long util_wall_ms(void);
void util_iso_time(char *out, size_t osz, long long ms);
int util_has_word(const char *s, const char *w);
unsigned util_hash(const char *s);
void util_uuid(char *out, size_t osz, unsigned long long n);
int util_hexval(int ch);

/* mock-json.c */
yajl_val json_get(yajl_val o, const char *key);
const char *json_str(yajl_val v);
long long json_int(yajl_val v, long long def);
int json_bool(yajl_val v);
size_t json_depth(const char *p, size_t n);
void json_answer(struct conn *c, yajl_val v);
yajl_val json_body(struct conn *c, char *body, size_t n);
yajl_gen json_gen(void);
void json_take(yajl_gen y, struct buf *b);
size_t json_len(yajl_gen y);
void json_error(yajl_gen y, const char *msg, const char *type,
    const char *code);
void json_put(yajl_gen y, const char *s);
void json_putn(yajl_gen y, const char *s, size_t n);
void json_raw(yajl_gen y, const char *s, size_t n);
void json_ks(yajl_gen y, const char *k, const char *v);
void json_ki(yajl_gen y, const char *k, long long v);
void json_kb(yajl_gen y, const char *k, int v);
void json_kd(yajl_gen y, const char *k, double v);
char *json_text(yajl_val v);
void json_kb64(yajl_gen y, const char *k, const void *p, size_t n);

/* mock-http.c */
void http_reset(struct conn *c);
void http_fixed(struct conn *c, int status, const char *ctype,
    const struct mock *m);
void http_sse(struct conn *c, const struct mock *m);
void http_error(struct conn *c, int status, const char *msg, const char *type,
    const char *code, const struct mock *m);
int http_header_is(const char *n, size_t nl, const char *s);
void http_wake(struct conn *c, int64_t t);

/* mock-route.c */
void route_stats_clear(void);
int route_header(const struct req *q, const char *name, char *out, size_t osz);
int route_cap(const struct req *q, int i, char *out, size_t osz);
int route_query(const struct req *q, const char *key, char *out, size_t osz);
void route_json(struct req *q, int status);
void route_bytes(struct req *q, int status, const char *ctype, const void *p,
    size_t n);
void route_add_header(struct req *q, const char *name, const char *value);
void route_dispatch(struct conn *c, char *p);

/* mock-sse.c: where a tool's name is (sse_tool), how a stream is made
 * (sse_unit) and the fault its next event is. */
enum { TN_TOP = 1, TN_FUNC = 2 };
enum { SU_BOM = 1, SU_ERRFIRST = 2, SU_FREEBAD = 4 };
enum { SF_NONE, SF_BAD, SF_ERR };

/* A dialect's event maker: one event (or the fault f) into b, 0 at the
 * end of the stream. */
typedef int sse_event_fn(struct resp *, struct buf *, int f);

size_t sse_tok_end(const char *t, size_t n, size_t p);
size_t sse_tok_count(const char *t, size_t n);
size_t sse_tok_prefix(const char *t, size_t n, size_t k);
size_t sse_piece_end(const char *t, size_t n, size_t p);
void sse_text(yajl_val v, struct buf *b);
yajl_val sse_last_user(yajl_val msgs);
yajl_gen sse_gen(struct resp *r);
const char *sse_model(yajl_val root);
void sse_names(struct resp *r, const char *id, unsigned long long seq,
    const char *model);
long long sse_repeat(const struct mock *m, int stream);
int sse_tool(struct resp *r, yajl_val root, int where);
size_t sse_args(struct resp *r, const char *t, size_t n);
size_t sse_think(struct resp *r, const char *t, size_t n);
int sse_clip(size_t *cnt, long long maxtok);
void sse_pad(struct resp *r, const struct mock *m, size_t split);
void sse_blank(const struct rstate *s, struct buf *b);
void sse_event(const struct rstate *s, struct buf *b, const char *name);
int sse_unit(struct conn *c, int how, sse_event_fn *event);

/* mock-openai.c */
int oai_sse_next(struct conn *c);
void oai_chat(struct req *q, int arg);
void oai_completion(struct req *q, int arg);
void oai_embeddings(struct req *q, int arg);
void oai_images(struct req *q, int arg);
void oai_tts(struct req *q, int arg);
void oai_stt(struct req *q, int translate);
void oai_video_submit(struct req *q, int arg);
void oai_video_content(struct req *q, int arg);
void oai_video_answer(struct req *q, const struct task *t);
void oai_video_absent(struct req *q, const char *id);

/* mock-responses.c */
void resp_create(struct req *q, int arg);

/* mock-gemini.c */
void gem_generate(struct req *q, int arg);

/* mock-messages.c */
void anth_messages(struct req *q, int arg);

/* mock-form.c */
int form_delim(const char *ct, char *out, size_t osz);
void form_parse(struct form *f, char *body, size_t n, const char *delim);
const struct part *form_file(const struct form *f, const char *name);
const char *form_text(const struct form *f, const char *name);
void form_fname(const struct part *pt, char *out, size_t osz);
void form_stats(const struct form *f);

/* mock-task.c */
struct task *task_new(int fam, int kind, const struct req *q,
    const char *prompt);
struct task *task_find(int fam, const char *id);
void task_free_all(void);
int task_phase(const struct task *t, long long *ix);
int task_over(const struct task *t);
const char *task_status(const struct task *t);
int task_pct(const struct task *t);
void task_times(struct task *t);
int task_poll(struct task *t);
struct task *task_poll_id(int fam, const char *id);
void task_mock_parse(struct tmock *tm, yajl_val o);
void task_mock_unfault(struct tmock *tm);
const char *task_env_status(const struct task *t);
void task_stats(yajl_gen y);

/* mock-files.c */
void files_url(char *out, size_t osz, const char *name, const char *ext);
void files_kurl(yajl_gen y, const char *k, const char *name, const char *ext);
const void *files_bytes(const char *name, size_t n, size_t *len,
    const char **ctype);
void files_answer(struct conn *c, const char *path, size_t plen);

/* mock-vendors.c */
void vend_mj_submit(struct req *q, int arg);
void vend_mj_upload(struct req *q, int arg);
void vend_mj_list_by(struct req *q, int arg);
void vend_mj_list(struct req *q, int queue);
void vend_mj_query(struct req *q, int arg);
void vend_mj_task_op(struct req *q, int seed);
void vend_suno_submit(struct req *q, int arg);
void vend_sunona_submit(struct req *q, int arg);
void vend_sunona_fetch(struct req *q, int arg);
void vend_flux_submit(struct req *q, int arg);
void vend_kling_submit(struct req *q, int arg);
void vend_luma_submit(struct req *q, int arg);
void vend_runway_submit(struct req *q, int arg);
void vend_runway_cancel(struct req *q, int arg);
void vend_cogv_submit(struct req *q, int arg);
void vend_viggle_submit(struct req *q, int arg);
void vend_viggle_templates(struct req *q, int multi);
void vend_viggle_credits(struct req *q, int arg);
void vend_ideo_generate(struct req *q, int arg);
void vend_ideo_form(struct req *q, int upscale);
void vend_ideo_describe(struct req *q, int arg);
void vend_ideo_rev_submit(struct req *q, int arg);
void vend_recraft_style(struct req *q, int arg);
void vend_recraft_gen(struct req *q, int arg);
void vend_recraft_op(struct req *q, int vectorize);
void vend_sd_v2(struct req *q, int arg);
void vend_sd_v1(struct req *q, int arg);
void vend_poll(struct req *q, int arg);
void vend_video_submit(struct req *q, int arg);
