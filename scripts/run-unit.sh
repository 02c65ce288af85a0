#!/bin/sh
# Run each unit-test program; fail if any fails.  cmocka prints its own
# per-group summary; this prints one total line at the end.
set -u
pass=0; fail=0
for t in "$@"; do
	if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
