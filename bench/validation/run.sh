#!/bin/bash
# Validation bench in a throwaway cluster (run after make install;
# PREFACTOR_DESTDIR: an extension installed with make install DESTDIR=...).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec pg_virtualenv -t ${PREFACTOR_DESTDIR:+-o "extension_destdir=$(cd "$PREFACTOR_DESTDIR" && pwd)"} \
	-o 'shared_buffers=512MB' -o 'max_wal_size=4GB' -o 'synchronous_commit=off' \
	psql -X -v ON_ERROR_STOP=1 -f "$here/bench.sql"
