#!/bin/bash
# usage: snapper.sh <role-regex> <logfile>: SIGUSR2 (worker started with --heapsnapshot-signal=SIGUSR2) every 0.7 s to the matching warren worker.ts processes
ROLE=${1:-producer|consumer}; LOG=${2:-/dev/stdout}
trap 'exit 0' TERM INT
while true; do
  PIDS=$(pgrep -f "wt-stall/bench/e2e/worker.ts" | while read p; do tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -E "\"role\":\"($ROLE)\"" | grep -q "\"system\":\"warren\"" && echo $p; done)
  for p in $PIDS; do kill -USR2 $p 2>/dev/null; done
  [ -n "$PIDS" ] && echo "$(date +%T.%3N) usr2 $PIDS" >> $LOG
  sleep 0.7
done
