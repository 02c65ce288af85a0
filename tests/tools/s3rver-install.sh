#!/bin/sh
# Install the s3rver S3 test server (npm package s3rver 3.x) into DIR
# (default: build/s3rver) and print the path of its executable.
# Idempotent: an existing install is reused.  Needs npm and the npm
# registry; fails with a message otherwise.
set -eu
dir=${1:-build/s3rver}
bin="$dir/node_modules/.bin/s3rver"
if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "s3rver-install: npm not found (install nodejs with npm)" >&2
	exit 1
fi
mkdir -p "$dir"
# A private prefix and cache keep the install inside the build tree.
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
	--cache "$dir/.npm-cache" s3rver@3 >&2
[ -x "$bin" ] || { echo "s3rver-install: $bin missing" >&2; exit 1; }
echo "$bin"
