#!/bin/sh
# The seed recipe's activation chain as one process, run by systemd-socket-activate (the .socket):
#   nginx-docker.service  ExecStart=docker start -a CONTAINER   ExecStartPost=waitport … | sleep 1
#   nginx-proxy.service   Requires/After= it; ExecStart=systemd-socket-proxyd HOST:PORT (takes fd 3)
# Usage: recipe-chain.sh waitport|sleep CONTAINER HOST PORT
mode=$1 container=$2 host=$3 port=$4
# Type=simple: systemd forks ExecStart and runs ExecStartPost right away, without waiting for it.
docker start -a "$container" >/dev/null 2>&1 &
case $mode in
  waitport) "$(dirname "$0")/waitport.sh" "$host" "$port" || exit 1 ;;
  sleep) sleep 1 ;;
  *) echo "recipe-chain.sh: unknown mode $mode" >&2; exit 2 ;;
esac
exec /lib/systemd/systemd-socket-proxyd "$host:$port"
