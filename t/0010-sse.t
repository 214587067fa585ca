#!/bin/sh
# The SSE push parser (sse.c) on byte strings, no network: cases written
# from the WHATWG spec give their events whether fed whole, a byte at a
# time or cut at any point; random streams agree with a naive reading of
# the spec.  The cases live in t/sse-test.c.
exec "$(dirname "$0")/sse-test"
