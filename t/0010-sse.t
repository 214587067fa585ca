#!/bin/sh
exec "$(dirname "$0")/sse-test"
