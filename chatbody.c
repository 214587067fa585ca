/*
 * chatbody.c: a chat or completion answer as the server's non-streamed
 * body.  Written from what chat.c assembled over a stream (the choices
 * in index order, tool calls, logprobs, a surrogate half still held back
 * as U+FFFD), as the official OpenAI SDK's accumulated completion has
 * it; and read when the answer came whole.
 */
#include <stdio.h>
#include <string.h>

#include "vmanjl.h"

/* Has the choice any text of kind f, held-back half included? */
static int
has_text(const struct chat_choice *ch, int f)
{
	return ch->text[f].len || ch->hi[f];
}

/*
 * Was the stream cut short?  A relay appends [DONE] even after an
 * upstream cut-off: a choice that received content and has no
 * finish_reason was truncated.  Its index, or -1.
 */
long
chat_truncated(const struct chat_answer *c)
{
	const struct chat_choice *ch;
	size_t i;

	for (i = 0; i < c->nch; i++) {
		ch = &c->ch[i];
		if (ch->seen && !ch->finish.len &&
		    (has_text(ch, DK_CONTENT) || has_text(ch, DK_REASONING) ||
		    has_text(ch, DK_REFUSAL) || ch->ntools))
			return (long)i;
	}
	return -1;
}

/* The choice's text of kind f as a JSON string; a half still held back
 * (the stream cut short) as U+FFFD. */
static void
put_text(struct buf *b, const struct chat_choice *ch, int f)
{
	json_str(b, ch->text[f].p, ch->text[f].len);
	if (ch->hi[f]) {
		b->len--;	/* the closing quote */
		buf_put(b, UTF8_FFFD "\"", 4);
	}
}

static void
put_or(struct buf *b, const struct buf *v, const char *dflt)
{
	if (v->len)
		buf_put(b, v->p, v->len);
	else
		buf_puts(b, dflt);
}

/* "tool_calls":[...] of one assembled choice */
static void
put_tools(struct buf *b, const struct chat_choice *ch)
{
	const struct chat_tool *t;
	size_t k;

	buf_puts(b, ",\"tool_calls\":[");
	for (k = 0; k < ch->ntools; k++) {
		t = &ch->tools[k];
		if (k)
			buf_putc(b, ',');
		buf_puts(b, "{\"id\":");
		json_str(b, t->id.p, t->id.len);
		buf_puts(b, ",\"type\":");
		if (t->type.len)
			json_str(b, t->type.p, t->type.len);
		else
			buf_puts(b, "\"function\"");
		buf_puts(b, ",\"function\":{\"name\":");
		json_str(b, t->name.p, t->name.len);
		buf_puts(b, ",\"arguments\":");
		json_str(b, t->args.p, t->args.len);
		buf_puts(b, "}}");
	}
	buf_putc(b, ']');
}

/* The choice's logprobs: null when no chunk had them, else each member
 * a chunk had, its arrays' elements concatenated. */
static void
put_logprobs(struct buf *b, const struct chat_choice *ch)
{
	size_t i;
	int first = 1;

	if (!ch->lp) {
		buf_puts(b, "null");
		return;
	}
	buf_putc(b, '{');
	for (i = 0; i < CHAT_NLP; i++) {
		if (ch->lps[i] == LP_ABSENT)
			continue;
		if (!first)
			buf_putc(b, ',');
		first = 0;
		buf_putc(b, '"');
		buf_puts(b, chat_lp[i].name);
		buf_puts(b, "\":");
		if (ch->lps[i] == LP_ARRAY) {
			buf_putc(b, '[');
			buf_put(b, ch->lpv[i].p, ch->lpv[i].len);
			buf_putc(b, ']');
		} else
			buf_puts(b, "null");
	}
	buf_putc(b, '}');
}

/* One assembled choice, as a non-streamed answer has it. */
static void
put_choice(struct buf *b, const struct chat_choice *ch, size_t i, int completion)
{
	char num[24];

	buf_puts(b, "{\"index\":");
	snprintf(num, sizeof num, "%zu", i);
	buf_puts(b, num);
	if (completion) {
		buf_puts(b, ",\"text\":");
		put_text(b, ch, DK_CONTENT);
	} else {
		buf_puts(b, ",\"message\":{\"role\":\"assistant\","
		    "\"content\":");
		/* null beside tool calls or a refusal, as the SDK has it */
		if (has_text(ch, DK_CONTENT) ||
		    !(ch->ntools || has_text(ch, DK_REFUSAL)))
			put_text(b, ch, DK_CONTENT);
		else
			buf_puts(b, "null");
		if (has_text(ch, DK_REFUSAL)) {
			buf_puts(b, ",\"refusal\":");
			put_text(b, ch, DK_REFUSAL);
		}
		if (has_text(ch, DK_REASONING)) {
			buf_puts(b, ",\"reasoning_content\":");
			put_text(b, ch, DK_REASONING);
		}
		if (ch->ntools)
			put_tools(b, ch);
		buf_putc(b, '}');
	}
	buf_puts(b, ",\"logprobs\":");
	put_logprobs(b, ch);
	buf_puts(b, ",\"finish_reason\":");
	put_or(b, &ch->finish, "null");
	buf_putc(b, '}');
}

/*
 * Write the answer the server would have sent without streaming into r:
 * a chat.completion (or text_completion) body, choice 0's content and
 * finish_reason, and the usage if the stream carried it.
 */
void
chat_write(const struct chat_answer *c, struct result *r)
{
	int completion = c->object.len &&
	    strstr(c->object.p, "text_completion") != NULL;
	const struct chat_choice *ch;
	size_t i;
	int first = 1;

	buf_reset(&r->body);
	buf_puts(&r->body, "{\"id\":");
	put_or(&r->body, &c->id, "null");
	buf_puts(&r->body, completion ? ",\"object\":\"text_completion\"" :
	    ",\"object\":\"chat.completion\"");
	buf_puts(&r->body, ",\"created\":");
	put_or(&r->body, &c->created, "null");
	buf_puts(&r->body, ",\"model\":");
	put_or(&r->body, &c->model, "null");
	if (c->fp.len) {
		buf_puts(&r->body, ",\"system_fingerprint\":");
		buf_put(&r->body, c->fp.p, c->fp.len);
	}
	if (c->tier.len) {
		buf_puts(&r->body, ",\"service_tier\":");
		buf_put(&r->body, c->tier.p, c->tier.len);
	}
	buf_puts(&r->body, ",\"choices\":[");
	for (i = 0; i < c->nch; i++) {
		ch = &c->ch[i];
		if (!ch->seen)
			continue;
		if (!first)
			buf_putc(&r->body, ',');
		first = 0;
		put_choice(&r->body, ch, i, completion);
	}
	buf_putc(&r->body, ']');
	if (c->usage.len) {
		buf_puts(&r->body, ",\"usage\":");
		buf_put(&r->body, c->usage.p, c->usage.len);
	}
	buf_putc(&r->body, '}');

	buf_reset(&r->content);
	buf_reset(&r->finish);
	buf_reset(&r->usage);
	if (c->nch && c->ch[0].seen) {
		ch = &c->ch[0];
		if (has_text(ch, DK_CONTENT) || !ch->ntools)
			put_text(&r->content, ch, DK_CONTENT);
		else
			buf_puts(&r->content, "null");
		put_or(&r->finish, &ch->finish, "null");
	}
	if (c->usage.len)
		buf_put(&r->usage, c->usage.p, c->usage.len);
}

/*
 * A non-streamed chat or completions answer body[0..n): its compact JSON
 * in res->body, choice 0's text, finish_reason and the usage.  0, or -1
 * when body is not JSON (why in msg).
 */
int
chat_body(const char *body, size_t n, struct result *res, struct buf *msg)
{
	struct jpick pk[4] = {
		{ .path = "choices.0.message.content" },
		{ .path = "choices.0.text" },
		{ .path = "choices.0.finish_reason" }, { .path = "usage" }
	};
	struct jpick *c = &pk[0];
	int rc;

	if ((rc = json_compact(body, n, &res->body, pk, 4, msg)) == 0) {
		if (!c->val.len)
			c = &pk[1];
		buf_put(&res->content, c->val.p, c->val.len);
		buf_put(&res->finish, pk[2].val.p, pk[2].val.len);
		buf_put(&res->usage, pk[3].val.p, pk[3].val.len);
	}
	json_picks_free(pk, 4);
	return rc;
}
