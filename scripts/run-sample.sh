#!/bin/sh
# make run: the whole pipeline on the bundled sample (filled in as stages land).
set -eu
echo "infty: tools built in build/bin: $(ls build/bin | tr '\n' ' ')"
