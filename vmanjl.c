/*
 * vmanjl: send JSON Lines requests to the VMAN API, many at once, and
 * write one JSON record per line for what comes back.
 *
 * main() reads the options and the environment into a struct conf,
 * hands the input to the pool (pool.c), and writes the summary.  The
 * data path, stage by stage: input.c reads and checks a line,
 * request.c builds its HTTP request, pool.c runs it, answer.c decodes
 * the answer (sse.c, chat.c, save.c, task.c), out.c writes the records.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "vmanjl.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vmanjl [-hkqVv] [-e path] [-H 'name: value'] [-j jobs]\n"
"              [--backoff ms] [--base-url url] [--cacert file]\n"
"              [--cache dir] [--cache-mode mode] [--connect-timeout s]\n"
"              [--dry-run] [--endpoints] [--events]\n"
"              [--format vmanjl|batch] [--idle-timeout s] [--insecure]\n"
"              [--key-file file] [--max-errors n]\n"
"              [--max-response-size bytes]\n"
"              [--no-progress] [--no-wait] [--out-dir dir]\n"
"              [--poll-interval s] [--progress] [--resume file]\n"
"              [--retries n] [--rpm n] [--task-timeout s] [--timeout s]\n"
"              [--timing] [--tpm n] [--window n] [file ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf(
"\nRead one API request per line (an envelope {\"custom_id\",\"method\",\"url\",\n"
"\"body\",\"headers\"} or a bare request body), send them to $VMAN_BASE_URL,\n"
"and write one JSON record per line: delta, event, progress, retry,\n"
"response, error (request with --dry-run).\n"
"\n"
"  -e, --endpoint path      endpoint for bare bodies (/v1/chat/completions)\n"
"  -H, --header 'n: v'      add a header to every request\n"
"  -h, --help               show this help\n"
"  -j, --jobs n             requests in flight at once (8)\n"
"  -k, --keep-order         write records in input order\n"
"  -q, --quiet              no summary or progress on stderr\n"
"  -V, --version            show the version\n"
"  -v, --verbose            trace HTTP headers on stderr (key redacted)\n"
"      --backoff ms         first retry wait, doubled each retry (500)\n"
"      --base-url url       the API's base URL ($VMAN_BASE_URL)\n"
"      --cacert file        trust the CA certificates in file\n"
"      --cache dir          answer repeated requests from dir ($VMANJL_CACHE)\n"
"      --cache-mode mode    read-write (default), read-only, refresh, or\n"
"                           offline (a miss is an error, nothing is sent)\n"
"      --connect-timeout s  limit on connecting (10)\n"
"      --dry-run            check every line and write the request it\n"
"                           would send, with a token estimate; send nothing\n"
"      --endpoints          list the built-in endpoint table and exit\n"
"      --events             write raw SSE events instead of deltas\n"
"      --format fmt         vmanjl (default) or batch (OpenAI Batch output)\n"
"      --idle-timeout s     give up when no byte arrives for s seconds (120)\n"
"      --insecure           do not verify the server's certificate\n"
"      --key-file file      read the API key from file ($VMAN_API_KEY)\n"
"      --max-errors n       stop sending after n lines end in errors\n"
"      --max-response-size bytes  largest answer (or stream event)\n"
"                           taken, k/M/G suffixes (64M)\n"
"      --no-progress        no live progress line\n"
"      --no-wait            tasks: write the submit answer, do not poll\n"
"      --out-dir dir        where binary answers are saved (.)\n"
"      --poll-interval s    tasks: wait between polls (5)\n"
"      --progress           a live progress line even when not a terminal\n"
"      --resume file        skip the lines that have a response in file\n"
"      --retries n          retries after the first attempt (3)\n"
"      --rpm n              at most n request starts in any minute\n"
"      --task-timeout s     tasks: give up after s seconds (600)\n"
"      --timeout s          limit on one whole attempt (600; 0: none)\n"
"      --timing             add latency_ms and ttft_ms to terminal records\n"
"      --tpm n              at most n estimated tokens in any minute\n"
"      --window n           -k: most requests admitted but not yet\n"
"                           written (4 x jobs, at least 16)\n"
"\nSee vmanjl(1).\n");
}

/* ---------------------------------------------------------------- */

/* ---------------------------------------------------------------- */
/* Option values */

/* A duration in seconds (decimals allowed) as milliseconds; -1 if bad. */
static long
parse_secs(const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (errno || end == s || *end || d < 0 || d > 1e9)
		return -1;
	return (long)(d * 1000 + 0.5);
}

static long long
parse_num(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		errx(2, "invalid %s '%s' (want %lld to %lld)", what, s, min,
		    max);
	return v;
}

static size_t
parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!errno && end != s) {
		switch (*end) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		}
		if (!*end && v > 0 && v <= (SIZE_MAX >> 1) >> shift)
			return (size_t)(v << shift);
	}
	errx(2, "invalid size '%s' (a number of bytes, k/M/G suffixes)", s);
}

static long
secs_opt(const char *s, const char *name)
{
	long v = parse_secs(s);

	if (v < 0)
		errx(2, "invalid %s '%s' (want seconds)", name, s);
	return v;
}

/* ---------------------------------------------------------------- */
/* Set-up */

static char *
read_key(const char *file)
{
	struct stat st;
	char buf[4096];
	ssize_t n;
	size_t len;
	int fd;

	if ((fd = open(file, O_RDONLY)) < 0)
		err(2, "cannot open '%s'", file);
	/* As ssh does with keys: a secret others can read is refused. */
	if (fstat(fd, &st) < 0)
		err(2, "cannot read '%s'", file);
	if (st.st_mode & 077)
		errx(2, "key file '%s' can be read by others: chmod 600 '%s'",
		    file, file);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		err(2, "cannot read '%s'", file);
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0)
		errx(2, "key file '%s' is empty", file);
	return xstrdup(buf);
}

/* A -H header: "Name: value", no line breaks. */
static void
check_header(const char *h)
{
	const char *colon = strchr(h, ':');
	const char *s;

	/* Checked first: a message must not carry the line break. */
	if (strpbrk(h, "\r\n"))
		errx(2, "a -H header contains a line break");
	if (!colon || colon == h)
		errx(2, "invalid header '%s' (want 'Name: value')", h);
	for (s = h; s < colon; s++)
		if (*s <= ' ' || *s == 0x7f)
			errx(2, "invalid header name in '%s'", h);
}


enum {
	O_BACKOFF = 256, O_BASE_URL, O_CACERT, O_CACHE, O_CACHE_MODE,
	O_CONNECT_TIMEOUT, O_DRY_RUN,
	O_ENDPOINTS, O_EVENTS, O_FORMAT, O_IDLE_TIMEOUT, O_INSECURE,
	O_KEY_FILE, O_MAX_ERRORS, O_MAX_RESPONSE, O_NO_PROGRESS, O_NO_WAIT,
	O_OUT_DIR,
	O_POLL_INTERVAL, O_PROGRESS, O_RESUME, O_RETRIES, O_TASK_TIMEOUT,
	O_TIMEOUT, O_TIMING, O_RPM, O_TPM,
	O_WINDOW
};

static const struct option longopts[] = {
	{ "backoff", required_argument, NULL, O_BACKOFF },
	{ "base-url", required_argument, NULL, O_BASE_URL },
	{ "cache", required_argument, NULL, O_CACHE },
	{ "cache-mode", required_argument, NULL, O_CACHE_MODE },
	{ "cacert", required_argument, NULL, O_CACERT },
	{ "connect-timeout", required_argument, NULL, O_CONNECT_TIMEOUT },
	{ "dry-run", no_argument, NULL, O_DRY_RUN },
	{ "endpoint", required_argument, NULL, 'e' },
	{ "endpoints", no_argument, NULL, O_ENDPOINTS },
	{ "events", no_argument, NULL, O_EVENTS },
	{ "format", required_argument, NULL, O_FORMAT },
	{ "header", required_argument, NULL, 'H' },
	{ "help", no_argument, NULL, 'h' },
	{ "idle-timeout", required_argument, NULL, O_IDLE_TIMEOUT },
	{ "insecure", no_argument, NULL, O_INSECURE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "keep-order", no_argument, NULL, 'k' },
	{ "key-file", required_argument, NULL, O_KEY_FILE },
	{ "max-errors", required_argument, NULL, O_MAX_ERRORS },
	{ "max-response-size", required_argument, NULL, O_MAX_RESPONSE },
	{ "no-progress", no_argument, NULL, O_NO_PROGRESS },
	{ "no-wait", no_argument, NULL, O_NO_WAIT },
	{ "out-dir", required_argument, NULL, O_OUT_DIR },
	{ "poll-interval", required_argument, NULL, O_POLL_INTERVAL },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "resume", required_argument, NULL, O_RESUME },
	{ "retries", required_argument, NULL, O_RETRIES },
	{ "rpm", required_argument, NULL, O_RPM },
	{ "task-timeout", required_argument, NULL, O_TASK_TIMEOUT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "timing", no_argument, NULL, O_TIMING },
	{ "tpm", required_argument, NULL, O_TPM },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "window", required_argument, NULL, O_WINDOW },
	{ NULL, 0, NULL, 0 }
};

static const char *cache_modes[] = {
	[CACHE_RW] = "read-write", [CACHE_RO] = "read-only",
	[CACHE_REFRESH] = "refresh", [CACHE_OFFLINE] = "offline", NULL
};


/* What the command line says before the environment is read. */
struct args {
	const char *base;	/* --base-url */
	const char *key_file;
	int progress;		/* --progress 1, --no-progress 0, else -1 */
};

/* Options that take a number, a size or a duration. */
static int
set_number(struct conf *c, int ch, const char *arg)
{
	switch (ch) {
	case 'j':
		c->jobs = (int)parse_num(arg, 1, 10000, "job count");
		break;
	case O_BACKOFF:
		c->backoff_ms = (long)parse_num(arg, 1, 3600000, "backoff");
		break;
	case O_CONNECT_TIMEOUT:
		c->connect_ms = secs_opt(arg, "connect timeout");
		break;
	case O_IDLE_TIMEOUT:
		c->idle_ms = secs_opt(arg, "idle timeout");
		break;
	case O_MAX_ERRORS:
		c->max_errors = (unsigned long)parse_num(arg, 1, 1000000000,
		    "error count");
		break;
	case O_MAX_RESPONSE:
		c->max_response = parse_size(arg);
		break;
	case O_POLL_INTERVAL:
		c->poll_ms = secs_opt(arg, "poll interval");
		if (c->poll_ms < 10)
			errx(2, "invalid poll interval '%s' (want at least "
			    "0.01 s)", arg);
		break;
	case O_RETRIES:
		c->retries = (int)parse_num(arg, 0, 1000, "retries");
		break;
	case O_RPM:
		c->rpm = (long)parse_num(arg, 1, 100000000, "rpm");
		break;
	case O_TASK_TIMEOUT:
		c->task_timeout_ms = secs_opt(arg, "task timeout");
		break;
	case O_TIMEOUT:
		c->timeout_ms = secs_opt(arg, "timeout");
		break;
	case O_TPM:
		c->tpm = (long)parse_num(arg, 1, 1000000000000LL, "tpm");
		break;
	case O_WINDOW:
		c->window = (size_t)parse_num(arg, 1, 10000000, "window");
		break;
	default:
		return 0;
	}
	return 1;
}

/* Options that choose one of a set of names. */
static int
set_choice(struct conf *c, int ch, const char *arg)
{
	int i;

	switch (ch) {
	case O_CACHE_MODE:
		for (i = 0; cache_modes[i]; i++)
			if (strcmp(arg, cache_modes[i]) == 0)
				break;
		if (!cache_modes[i])
			errx(2, "invalid cache mode '%s' (want read-write, "
			    "read-only, refresh or offline)", arg);
		c->cache.mode = i;
		break;
	case O_FORMAT:
		if (strcmp(arg, "vmanjl") == 0)
			c->format = FMT_VMANJL;
		else if (strcmp(arg, "batch") == 0)
			c->format = FMT_BATCH;
		else
			errx(2, "invalid format '%s' (want vmanjl or batch)",
			    arg);
		break;
	default:
		return 0;
	}
	return 1;
}

/* Every other option; those that answer at once (--help) exit here. */
static int
set_other(struct conf *c, struct args *a, int ch, const char *arg)
{
	struct curl_slist *h;
	const char *why;

	switch (ch) {
	case 'e':
		if ((why = in_url_problem(arg)))
			errx(2, "invalid endpoint '%s': it %s", arg, why);
		c->endpoint = arg;
		break;
	case 'H':
		check_header(arg);
		if (!(h = curl_slist_append(c->user_headers, arg)))
			err(2, "out of memory");
		c->user_headers = h;
		break;
	case 'h':
		help();
		exit(0);
	case 'k': c->keep = 1; break;
	case 'q': c->quiet = 1; break;
	case 'V':
		printf("vmanjl %s (%s)\n", VMANJL_VERSION, curl_version());
		exit(0);
	case 'v': c->verbose = 1; break;
	case O_BASE_URL: a->base = arg; break;
	case O_CACHE: c->cache.dir = arg; break;
	case O_CACERT: c->cacert = arg; break;
	case O_DRY_RUN: c->dry_run = 1; break;
	case O_ENDPOINTS:
		ep_print(stdout);
		exit(0);
	case O_EVENTS: c->events = 1; break;
	case O_INSECURE: c->insecure = 1; break;
	case O_KEY_FILE: a->key_file = arg; break;
	case O_NO_PROGRESS: a->progress = 0; break;
	case O_NO_WAIT: c->no_wait = 1; break;
	case O_OUT_DIR: c->out_dir = arg; break;
	case O_PROGRESS: a->progress = 1; break;
	case O_RESUME: c->resume = arg; break;
	case O_TIMING: c->timing = 1; break;
	default:
		return 0;
	}
	return 1;
}

/*
 * An option getopt_long() did not take: say which, but never its value
 * (a key typed as "--key sk-..." must not reach a terminal log).
 */
static void
bad_option(char *argv[], int ind)
{
	const char *s = argv[ind - 1];
	int n = (int)strcspn(s, "=");

	if (optopt && optopt < O_BACKOFF && strncmp(s, "--", 2) != 0)
		warnx("option -%c %s", optopt, strchr("eHj", optopt) ?
		    "needs a value" : "is unknown");
	else if (strncmp(s, "--key", n < 5 ? 5 : (size_t)n) == 0 ||
	    strncmp(s, "--api-key", 9) == 0)
		errx(2, "there is no option '%.*s': give the key in "
		    "VMAN_API_KEY, or in a file with --key-file FILE", n, s);
	else if (optopt)
		warnx("option '%.*s' needs a value", n, s);
	else
		warnx("unknown or ambiguous option '%.*s'", n, s);
	usage(stderr);
	exit(2);
}

/* Does long option ch take a secret or a path?  Such options must be
 * spelled out in full. */
static int
secret_or_path(int ch)
{
	return ch == O_KEY_FILE || ch == O_CACERT || ch == O_RESUME ||
	    ch == O_CACHE || ch == O_OUT_DIR;
}

/* The long option just taken must be spelled name in full, not as an
 * abbreviation: "--key sk-..." is no way to say --key-file. */
static void
spelled_out(char *argv[], int ind, const char *name)
{
	const char *s = argv[optarg && optarg == argv[ind - 1] ? ind - 2 :
	    ind - 1];
	size_t n = strcspn(s + 2, "=");

	if (strlen(name) == n && strncmp(s + 2, name, n) == 0)
		return;
	if (strncmp(name, "key-file", 8) == 0)
		errx(2, "there is no option '--%.*s': give the key in "
		    "VMAN_API_KEY, or in a file with --key-file FILE", (int)n,
		    s + 2);
	errx(2, "option '--%.*s': spell it out as '--%s'", (int)n, s + 2,
	    name);
}

/* The defaults, then the command line; returns the index of the first
 * input file in argv. */
static int
parse_options(struct conf *c, struct args *a, int argc, char *argv[])
{
	int ch, li = 0;

	memset(c, 0, sizeof *c);
	c->endpoint = "/v1/chat/completions";
	c->jobs = 8;
	c->retries = 3;
	c->backoff_ms = 500;
	c->connect_ms = 10000;
	c->timeout_ms = 600000;
	c->idle_ms = 120000;
	c->max_response = (size_t)64 << 20;
	c->poll_ms = 5000;
	c->task_timeout_ms = 600000;
	c->out_dir = ".";
	c->format = FMT_VMANJL;
	memset(a, 0, sizeof *a);
	a->progress = -1;
	opterr = 0;	/* its messages would repeat a secret typed there */
	while ((ch = getopt_long(argc, argv, "e:H:hj:kqVv", longopts,
	    &li)) != -1) {
		if (ch == '?' || ch == ':')
			bad_option(argv, optind);
		if (ch >= O_BACKOFF && secret_or_path(ch))
			spelled_out(argv, optind, longopts[li].name);
		if (!set_number(c, ch, optarg) && !set_choice(c, ch, optarg) &&
		    !set_other(c, a, ch, optarg)) {
			usage(stderr);
			exit(2);
		}
	}
	return optind;
}

/* The base URL: --base-url, else $VMAN_BASE_URL; http(s), no blanks,
 * no trailing slash. */
static char *
base_url(const char *base)
{
	const char *env;
	char *b;
	size_t n;

	if (!base && (env = getenv("VMAN_BASE_URL")) && *env)
		base = env;
	if (!base)
		errx(2, "no base URL: set VMAN_BASE_URL or use --base-url");
	if (strncasecmp(base, "http://", 7) != 0 &&
	    strncasecmp(base, "https://", 8) != 0)
		errx(2, "invalid base URL '%s' (want http:// or https://)",
		    base);
	if (strpbrk(base, " \t\r\n"))
		errx(2, "invalid base URL '%s'", base);
	b = xstrdup(base);
	for (n = strlen(b); n && b[n - 1] == '/'; n--)
		b[n - 1] = '\0';
	return b;
}

/*
 * "vmanjl --resume out.jsonl ... > out.jsonl": the shell has emptied the
 * file before vmanjl runs, and every line would be sent and paid for
 * again.  Refused unless standard output appends (>>).
 */
static void
check_resume_trap(const char *resume)
{
	struct stat a, o;
	int fl;

	if (stat(resume, &a) < 0 || fstat(1, &o) < 0 ||
	    !S_ISREG(o.st_mode) || a.st_dev != o.st_dev ||
	    a.st_ino != o.st_ino)
		return;
	if ((fl = fcntl(1, F_GETFL)) >= 0 && (fl & O_APPEND))
		return;
	errx(2, "the standard output is '%s', the --resume file, opened "
	    "without appending: the shell has emptied it, so nothing is "
	    "sent; write '>> %s' to add to it", resume, resume);
}

/*
 * Each request in flight holds a connection: raise the soft limit of
 * open files toward the hard one, and when -j still does not fit, run
 * as many at once as do (with one warning) rather than fail lines with
 * "Couldn't connect".
 */
static void
fit_jobs(struct conf *c, int spare)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)c->jobs + (rlim_t)spare, room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want)
		rl.rlim_cur = want;
	else
		rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	room = rl.rlim_cur > (rlim_t)spare + 1 ? rl.rlim_cur - spare : 1;
	warnx("-j %d needs about %lu open files and the limit is %lu: "
	    "running %lu at once", c->jobs, (unsigned long)want,
	    (unsigned long)rl.rlim_cur, (unsigned long)room);
	c->jobs = (int)room;
}

/* Does a -H header carry a credential (Authorization, x-api-key...)? */
static int
has_auth(const struct curl_slist *h)
{
	for (; h; h = h->next)
		if (io_secret_header(h->data))
			return 1;
	return 0;
}

/* Are descriptors a and b the same terminal?  Then a progress line on
 * one would be drawn in the middle of the records on the other. */
static int
same_terminal(int a, int b)
{
	struct stat sa, sb;

	return isatty(a) && isatty(b) && fstat(a, &sa) == 0 &&
	    fstat(b, &sb) == 0 && sa.st_rdev == sb.st_rdev;
}

/* Complete the settings from the environment and check them, and the
 * inputs, before anything is sent. */
static void
conf_finish(struct conf *c, const struct args *a, int argc, char *argv[])
{
	const char *env;
	int i, fd;

	if (!c->cache.dir && (env = getenv("VMANJL_CACHE")) && *env)
		c->cache.dir = env;
	/* A dry run sends nothing: its URLs may stay paths. */
	if (c->dry_run && !a->base &&
	    (!(env = getenv("VMAN_BASE_URL")) || !*env))
		c->base = xstrdup("");
	else
		c->base = base_url(a->base);
	if (a->key_file)
		c->key = read_key(a->key_file);
	else if ((env = getenv("VMAN_API_KEY")) && *env)
		c->key = xstrdup(env);
	if (c->key && strpbrk(c->key, "\r\n"))
		errx(2, "the API key contains a line break");
	if (c->dry_run)
		c->format = FMT_VMANJL;	/* request records have no Batch form */
	/* stdio, the input, the cache, a binary answer, libcurl's own. */
	fit_jobs(c, 32);
	if (c->window == 0)
		c->window = c->jobs * 4 > 16 ? (size_t)c->jobs * 4 : 16;
	if (c->window < (size_t)c->jobs)
		c->window = (size_t)c->jobs;
	c->progress = a->progress >= 0 ? a->progress : !c->quiet &&
	    isatty(2) && !same_terminal(1, 2);
	if (c->quiet && a->progress != 1)
		c->progress = 0;
	if (c->cacert && access(c->cacert, R_OK) < 0)
		err(2, "cannot read '%s'", c->cacert);
	if (c->insecure && !c->quiet)
		warnx("--insecure: the server's certificate is not checked");
	if (c->resume)
		check_resume_trap(c->resume);
	if (!c->key && !c->dry_run && !c->quiet && !has_auth(c->user_headers))
		warnx("no API key: set VMAN_API_KEY or use --key-file (the "
		    "requests go without one)");
	/* Every named input must open before anything is sent. */
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			continue;
		if ((fd = open(argv[i], O_RDONLY)) < 0)
			err(2, "cannot open '%s'", argv[i]);
		close(fd);
	}
}

static void
conf_free(struct conf *c)
{
	curl_slist_free_all(c->user_headers);
	if (c->key) {
		memset(c->key, 0, strlen(c->key));
		free(c->key);
	}
	free((char *)c->base);
}

/* "1 request", "2 requests": n and the noun, plural as n says. */
static const char *
count(char *b, size_t sz, unsigned long n, const char *one,
    const char *many)
{
	snprintf(b, sz, "%lu %s", n, n == 1 ? one : many);
	return b;
}

/* The run's one line on stderr; after an interruption, how to go on. */
static void
summary(const struct pool *p)
{
	const struct conf *c = p->conf;
	char hits[160] = "", unknown[64] = "", n1[32], n2[32], n3[32];

	if (c->cache.dir)
		snprintf(hits, sizeof hits, "%lu cache hits, %lu misses, ",
		    p->nhit, p->nmiss);
	if (c->resume)
		snprintf(hits + strlen(hits), sizeof hits - strlen(hits),
		    "%lu done before, ", p->nskip);
	if (c->dry_run)
		fprintf(stderr, "vmanjl: dry run: %lu requests, %lu valid, "
		    "%lu invalid, about %lld prompt tokens (chars/4)\n",
		    p->nreq, p->nok, p->nerr, p->est_tokens);
	else {
		if (p->nunknown)
			snprintf(unknown, sizeof unknown, " (%lu answer%s "
			    "without usage)", p->nunknown,
			    p->nunknown == 1 ? "" : "s");
		fprintf(stderr, "vmanjl: %s, %lu ok, %s, %s, %s%lld prompt "
		    "+ %lld completion tokens%s, %.2f s\n",
		    count(n1, sizeof n1, p->nreq, "request", "requests"),
		    p->nok, count(n2, sizeof n2, p->nerr, "error", "errors"),
		    count(n3, sizeof n3, p->nretry, "retry", "retries"), hits,
		    p->ptok, p->ctok, unknown,
		    (io_now_ms() - p->start_ms) / 1000.0);
	}
	if (p->stopped)
		fprintf(stderr, "vmanjl: stopped early after %s "
		    "(--max-errors %lu): the lines after line %lu were not "
		    "sent; to go on, run again with --resume on this output, "
		    "appending to it (>>)\n", count(n1, sizeof n1, p->nerr,
		    "error", "errors"), c->max_errors, p->last_line);
	if (pool_interrupted())
		fprintf(stderr, "vmanjl: interrupted: %s ended as "
		    "'interrupted'; to go on, run again with --resume on "
		    "this output, appending to it (>>)\n",
		    count(n1, sizeof n1, p->nintr, "request", "requests"));
}

int
main(int argc, char *argv[])
{
	struct conf c;
	struct args a;
	struct pool p;
	struct input *in;
	int input_failed, status;

	optind = parse_options(&c, &a, argc, argv);
	argc -= optind;
	argv += optind;
	conf_finish(&c, &a, argc, argv);

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		errx(2, "cannot initialise libcurl");
	pool_init(&p, &c);
	if (c.progress)
		p.total = in_count_lines(argv, argc);
	if (!c.quiet && isatty(0) && (argc == 0 || (argc == 1 &&
	    strcmp(argv[0], "-") == 0)))
		warnx("reading requests from the terminal, one JSON object a "
		    "line; Ctrl-D ends");
	in = in_open(argv, argc);
	input_failed = pool_run(&p, in);
	in_close(in);
	pool_progress(&p, 1);
	status = pool_interrupted() ? 128 + pool_interrupted() :
	    input_failed ? 2 : p.nerr ? 1 : 0;
	/* -q hides the summary of a clean run only, as curl -sS does. */
	if (!c.quiet || status)
		summary(&p);
	pool_free(&p);
	conf_free(&c);
	curl_global_cleanup();
	return status;
}
