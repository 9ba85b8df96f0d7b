#!/bin/sh
# The seed recipe's waitport (its ExecStartPost): `nc -z` the port every 0.1 s, up to a minute.
# Usage: waitport.sh HOST PORT
host=$1 port=$2 tries=600
for i in $(seq $tries); do
  if nc -z "$host" "$port" >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.1
done
exit 1
