#!/bin/sh
# Writes the secret files deploy/compose.yaml mounts, once: random keys and passwords, mode 0600.
# Back them up (the master key above all: without it no stored conversation can be read). An
# existing file is kept; to use a key you already have (the operator or anchor key of an existing
# deployment), write its 64 hex digits into the file before running this.
set -eu
cd "$(dirname "$0")/secrets"
umask 077
hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
new() { [ -s "$1" ] || { printf '%s' "$2" > "$1"; echo "wrote deploy/secrets/$1"; }; }
new postgres_password "$(hex)"
new tally_database_url "postgresql+psycopg://tally:$(cat postgres_password)@postgres:5432/tally"
new tally_operator_key "0x$(hex)"
new tally_anchor_key "0x$(hex)"
new tally_master_key "$(hex)"
new tally_admin_api_key "$(hex)"
new tally_usage_api_key "$(hex)"
