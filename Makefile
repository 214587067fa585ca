# vmanjl: a Unix filter over JSON Lines for the VMAN API.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
PROVE ?= prove

# Deferred (=), so that they are read after `deps` has run.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags libcurl yajl)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs libcurl yajl)
YAJL_CFLAGS = $(shell $(PKG_CONFIG) --cflags yajl)
YAJL_LIBS = $(shell $(PKG_CONFIG) --libs yajl)
ALL_CFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-Wall -Wextra $(CFLAGS)

OBJS = vmanjl.o answer.o buf.o cache.o chat.o chatbody.o endpoints.o fail.o gemini.o \
	input.o io.o jevent.o json.o messages.o out.o pace.o pool.o request.o \
	responses.o resume.o save.o sse.o task.o url.o
TOOLS = t/mockvman t/sse-test

all: vmanjl

vmanjl: $(OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(PKG_LIBS)

$(OBJS): vmanjl.h | deps

.c.o:
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(CPPFLAGS) -c -o $@ $<

MOCK_SRCS = t/mock-buf.c t/mock-files.c t/mock-form.c t/mock-gemini.c \
	t/mock-http.c t/mock-json.c t/mock-messages.c t/mock-openai.c \
	t/mock-responses.c t/mock-route.c t/mock-sse.c t/mock-task.c \
	t/mock-util.c t/mock-vendors.c
t/mockvman: $(MOCK_SRCS) t/mock.h | deps
	$(CC) $(ALL_CFLAGS) $(YAJL_CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ \
		$(MOCK_SRCS) $(YAJL_LIBS)

t/sse-test: t/sse-test.c sse.c buf.c vmanjl.h | deps
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) $(CPPFLAGS) $(LDFLAGS) -o $@ \
		t/sse-test.c sse.c buf.c

# The headers of libcurl and yajl, installed with apt-get where we can.
deps:
	@if ! $(PKG_CONFIG) --exists libcurl yajl 2>/dev/null; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing libcurl4-openssl-dev libyajl-dev pkg-config"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      libcurl4-openssl-dev libyajl-dev pkg-config >/dev/null || \
	    { apt-get update -q >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      libcurl4-openssl-dev libyajl-dev pkg-config >/dev/null; }; \
	  fi; \
	fi; \
	if ! $(PKG_CONFIG) --exists libcurl yajl 2>/dev/null; then \
	  echo "vmanjl needs the libcurl and yajl headers and pkg-config:"; \
	  echo "  Debian/Ubuntu: apt-get install libcurl4-openssl-dev libyajl-dev pkg-config"; \
	  echo "  Fedora:        dnf install libcurl-devel yajl-devel pkgconf-pkg-config"; \
	  echo "  Alpine:        apk add curl-dev yajl-dev pkgconf"; \
	  echo "  Homebrew:      brew install curl yajl pkg-config"; \
	  exit 1; \
	fi

check: vmanjl $(TOOLS) check-deps
	$(PROVE) t/*.t

# What the tests run besides vmanjl: prove, curl and jq.
check-deps:
	@missing=; \
	command -v $(PROVE) >/dev/null 2>&1 || missing="$$missing perl"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v jq >/dev/null 2>&1 || missing="$$missing jq"; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing \
	      >/dev/null || { apt-get update -q >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	      $$missing >/dev/null; }; \
	  else \
	    echo "the tests need:$$missing"; exit 1; \
	  fi; \
	fi

SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer

# The whole suite against an ASan + UBSan build made in a copy of the
# tree; any sanitizer report fails it, whatever the test thought.
check-sanitize: check-deps
	rm -rf sanitize && mkdir -p sanitize/logs
	cp -r $(OBJS:.o=.c) vmanjl.h Makefile t man1 examples debian completion \
	    sanitize/
	$(MAKE) -s -C sanitize clean
	VMANJL_SANITIZE=1 ASAN_OPTIONS=log_path=$(CURDIR)/sanitize/logs/asan \
	UBSAN_OPTIONS=log_path=$(CURDIR)/sanitize/logs/ubsan:print_stacktrace=1 \
	    $(MAKE) -C sanitize check CFLAGS="-O1 -g $(SAN)" \
	    LDFLAGS="$(SAN)"
	@if ls sanitize/logs/* >/dev/null 2>&1; then \
	  cat sanitize/logs/*; echo "sanitizer reports: see above"; exit 1; fi

# A representative part of the suite with vmanjl under valgrind: no
# leaks, no errors.
VALGRIND_TESTS = t/0200-answers.t t/0700-batch.t t/1000-services.t \
	t/1300-cache.t
check-valgrind: vmanjl $(TOOLS) check-deps
	rm -rf valgrind-logs && mkdir valgrind-logs
	VMANJL_VALGRIND=$(CURDIR)/valgrind-logs $(PROVE) $(VALGRIND_TESTS)
	@if grep -l 'ERROR SUMMARY: [1-9]' valgrind-logs/*; then \
	  echo "valgrind found errors or leaks: see the files above"; exit 1; fi

# Benchmarks beside curl on the local server (not part of check).
bench: vmanjl t/mockvman
	sh bench/bench.sh

# The libFuzzer targets t/fuzz-*.c, FUZZ_SECONDS each (needs clang).
FUZZ_SECONDS = 60
fuzz:
	sh t/fuzz.sh $(FUZZ_SECONDS)

# Start the local VMAN server, send the example requests, stop it.
# (Its last example line is malformed on purpose: vmanjl exits 1.)
demo: vmanjl t/mockvman
	@dir=$$(mktemp -d); \
	t/mockvman -f "$$dir/port" >/dev/null & pid=$$!; \
	i=0; while [ ! -s "$$dir/port" ] && [ $$i -lt 50 ]; do \
	  sleep 0.1; i=$$((i + 1)); done; \
	VMAN_BASE_URL=http://127.0.0.1:$$(cat "$$dir/port") \
	VMAN_API_KEY=sk-demo ./vmanjl examples/chat.jsonl; st=$$?; \
	kill $$pid; wait $$pid 2>/dev/null; rm -rf "$$dir"; \
	[ $$st -le 1 ]

# The version is the top entry of debian/changelog, the one place to
# change it: vmanjl --version, the User-Agent, the .deb and make dist
# all take it from there.
VERSION := $(shell sed -n '1s/.*(\(.*\)).*/\1/p' debian/changelog)
ALL_CFLAGS += -DVMANJL_VERSION='"$(VERSION)"'
vmanjl.o: debian/changelog

# Tab completion for bash and zsh, both made by completion/gen.sh from
# the one option table completion/vmanjl.opts.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
COMPLETIONS = completion/vmanjl.bash completion/_vmanjl

all: $(COMPLETIONS)

completion/vmanjl.bash: completion/gen.sh completion/vmanjl.opts
	sh completion/gen.sh bash completion/vmanjl.opts >$@.tmp && mv $@.tmp $@

completion/_vmanjl: completion/gen.sh completion/vmanjl.opts
	sh completion/gen.sh zsh completion/vmanjl.opts >$@.tmp && mv $@.tmp $@

install: vmanjl $(COMPLETIONS)
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	cp vmanjl $(DESTDIR)$(BINDIR)/vmanjl
	cp man1/vmanjl.1 $(DESTDIR)$(MANDIR)/man1/vmanjl.1
	cp completion/vmanjl.bash $(DESTDIR)$(BASHCOMPDIR)/vmanjl
	cp completion/_vmanjl $(DESTDIR)$(ZSHCOMPDIR)/_vmanjl

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vmanjl $(DESTDIR)$(MANDIR)/man1/vmanjl.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/vmanjl $(DESTDIR)$(ZSHCOMPDIR)/_vmanjl

# The release tarball vmanjl-VERSION.tar.gz in DISTDIR: the files of the
# commit HEAD under one folder vmanjl-VERSION/, the same bytes each time
# for one commit (git archive gives every file the commit's time, gzip
# -n leaves out the name and the time).  Needs git.
DISTNAME = vmanjl-$(VERSION)
DISTDIR = .
dist:
	@git diff --quiet HEAD -- 2>/dev/null || \
	    echo "dist: changes not committed are left out" >&2
	git archive --format=tar --prefix=$(DISTNAME)/ \
	    -o $(DISTDIR)/$(DISTNAME).tar HEAD
	gzip -n -9 -f $(DISTDIR)/$(DISTNAME).tar

clean:
	rm -f vmanjl $(OBJS) $(TOOLS)
	rm -rf sanitize valgrind-logs t/fuzz-build
	rm -f $(COMPLETIONS)

.PHONY: all bench check check-deps check-sanitize check-valgrind clean demo \
	deps fuzz install uninstall
.PHONY: dist
