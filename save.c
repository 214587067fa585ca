/*
 * save.c: binary answers (speech, images, video) to files.  An answer is
 * written to a temporary file beside its final name and renamed into
 * place once complete and synced, so a name never holds half a file.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vmanjl.h"

static const char *
extension(const char *ctype)
{
	static const char *map[][2] = {
		{ "audio/mpeg", "mp3" }, { "audio/mp3", "mp3" },
		{ "audio/wav", "wav" }, { "audio/x-wav", "wav" },
		{ "audio/wave", "wav" }, { "audio/ogg", "ogg" },
		{ "audio/opus", "opus" }, { "audio/aac", "aac" },
		{ "audio/flac", "flac" }, { "audio/pcm", "pcm" },
		{ "audio/L16", "pcm" }, { "image/png", "png" },
		{ "image/jpeg", "jpg" }, { "image/webp", "webp" },
		{ "image/gif", "gif" }, { "image/svg+xml", "svg" },
		{ "video/mp4", "mp4" }, { "video/webm", "webm" },
		{ "application/pdf", "pdf" }, { "application/zip", "zip" },
	};
	size_t i, n = strcspn(ctype, "; ");

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strlen(map[i][0]) == n &&
		    strncasecmp(ctype, map[i][0], n) == 0)
			return map[i][1];
	return "bin";
}

/* Is an answer of this type binary: not JSON, not text, not events? */
int
save_is_binary(const struct buf *ctype)
{
	if (!ctype->len || strstr(ctype->p, "json"))
		return 0;
	return strncasecmp(ctype->p, "text/", 5) != 0;
}

/*
 * Append the custom_id (JSON text) as a file name: its characters other
 * than ASCII letters, digits, '-' and a '.' that is not the first each
 * become one '_' (an escape or a UTF-8 sequence is one character).
 * Returns 0 when there is no custom_id.
 */
static int
safe_name(struct buf *b, const struct buf *cid)
{
	const unsigned char *p = (const unsigned char *)cid->p;
	size_t n = cid->len, i, start = b->len;

	if (n >= 2 && p[0] == '"')
		p++, n -= 2;
	for (i = 0; i < n; i++) {
		unsigned char ch = p[i];

		if (ch == '\\') {
			i += p[i + 1] == 'u' ? 5 : 1;
			ch = '_';
		} else if (ch >= 0x80) {
			while (i + 1 < n && (p[i + 1] & 0xc0) == 0x80)
				i++;
			ch = '_';
		} else if (!((ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || (ch == '.' && b->len > start)))
			ch = '_';
		buf_putc(b, ch);
	}
	return b->len > start;
}

/* Make the directories a file's path names, as mkdir -p does. */
static int
make_parents(const char *path)
{
	char *p = xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*s = '/';
	}
	free(p);
	return rc;
}

/* msg = "what 'name': <errno's text>"; returns -1. */
static int
why(struct buf *msg, const char *what, const struct buf *name)
{
	const char *e = strerror(errno);

	buf_reset(msg);
	buf_puts(msg, what);
	buf_puts(msg, " '");
	buf_puts(msg, name->p);
	buf_puts(msg, "': ");
	buf_puts(msg, e);
	return -1;
}

/*
 * A binary answer of content type ctype starts: open a temporary file
 * beside its final name (output, else out_dir/<custom_id or
 * line-N>.<ext>).  0, or -1 with the reason in msg.
 */
int
save_open(struct save *s, const char *output, const char *out_dir,
    const struct buf *cid, unsigned long line, const char *ctype,
    struct buf *msg)
{
	char name[64];

	buf_reset(&s->outname);
	if (output)
		buf_puts(&s->outname, output);
	else {
		buf_puts(&s->outname, out_dir);
		buf_putc(&s->outname, '/');
		if (!safe_name(&s->outname, cid)) {
			snprintf(name, sizeof name, "line-%lu", line);
			buf_puts(&s->outname, name);
		}
		buf_putc(&s->outname, '.');
		buf_puts(&s->outname, extension(ctype));
	}
	buf_reset(&s->tmpname);
	buf_put(&s->tmpname, s->outname.p, s->outname.len);
	snprintf(name, sizeof name, ".vmanjl-%ld-%lu.tmp", (long)getpid(),
	    line);
	buf_puts(&s->tmpname, name);
	if (make_parents(s->tmpname.p) < 0)
		return why(msg, "cannot make the directories of", &s->outname);
	if ((s->fd = open(s->tmpname.p, O_WRONLY | O_CREAT | O_TRUNC,
	    0666)) < 0)
		return why(msg, "cannot create", &s->tmpname);
	return 0;
}

/* Append n bytes of the answer; 0, or -1 with the reason in msg. */
int
save_write(struct save *s, const char *p, size_t n, struct buf *msg)
{
	if (io_write_all(s->fd, p, n) == 0)
		return 0;
	return why(msg, "cannot write", &s->tmpname);
}

/* The answer is complete: give it its name.  0, or -1 with the reason
 * in msg (and no file left behind). */
int
save_finish(struct save *s, struct buf *msg)
{
	int fd = s->fd;

	s->fd = -1;
	if (fsync(fd) == 0 && close(fd) == 0 &&
	    rename(s->tmpname.p, s->outname.p) == 0)
		return 0;
	why(msg, "cannot write", &s->outname);
	unlink(s->tmpname.p);
	return -1;
}

/* Drop an unfinished answer's temporary file, if there is one. */
void
save_discard(struct save *s)
{
	if (s->fd < 0)
		return;
	close(s->fd);
	unlink(s->tmpname.p);
	s->fd = -1;
}

void
save_free(struct save *s)
{
	save_discard(s);
	buf_free(&s->tmpname);
	buf_free(&s->outname);
}
