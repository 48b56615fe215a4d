#!/usr/bin/env bash
# bench.sh compares CloudHash with redis-server under redis-benchmark, side
# by side in one run, interleaved and repeated:
#
#   redis-benchmark -t set,get -n N -r 100000 -d 64 -c 50 -P {1,16}
#
# against redis-server (single-threaded), CloudHash with one loop and
# GOMAXPROCS=1 (the same core budget: the strict comparison), and CloudHash
# with its defaults (one loop per CPU). For each line it prints ops/s and
# the server's CPU time per operation, read from /proc/PID/stat.
#
#   examples/cloudhash/bench.sh [N] [ROUNDS]     (defaults 1000000 3)
#
# Needs redis-server and redis-tools (Debian). Linux only (/proc).
set -euo pipefail

N=${1:-1000000}
ROUNDS=${2:-3}
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/cloudhash" ./examples/cloudhash
tck=$(getconf CLK_TCK)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
	for _ in $(seq 100); do
		redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "server on port $1 did not start" >&2
	exit 1
}

# cpu_ticks PID: user+system clock ticks the process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A PORT PID
start_servers() {
	PORT[redis]=$(free_port)
	(cd "$work" && exec redis-server --port "${PORT[redis]}" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --logfile "$work/redis.log") &
	PID[redis]=$!
	pids+=("${PID[redis]}")
	PORT[ch1]=$(free_port)
	GOMAXPROCS=1 "$work/cloudhash" serve -loops 1 -line "" -length "" -resp "127.0.0.1:${PORT[ch1]}" >"$work/ch1.log" 2>&1 &
	PID[ch1]=$!
	pids+=("${PID[ch1]}")
	PORT[chN]=$(free_port)
	"$work/cloudhash" serve -line "" -length "" -resp "127.0.0.1:${PORT[chN]}" >"$work/chN.log" 2>&1 &
	PID[chN]=$!
	pids+=("${PID[chN]}")
	for s in redis ch1 chN; do wait_port "${PORT[$s]}"; done
}

# run SERVER PIPELINE: one redis-benchmark run; prints "set_rps get_rps cpu_us_per_op".
run() {
	local s=$1 p=$2 before after out
	before=$(cpu_ticks "${PID[$s]}")
	out=$(redis-benchmark -h 127.0.0.1 -p "${PORT[$s]}" -t set,get -n "$N" -r 100000 -d 64 -c 50 -P "$p" --csv 2>/dev/null)
	after=$(cpu_ticks "${PID[$s]}")
	local set_rps get_rps
	set_rps=$(echo "$out" | awk -F'","' '/^"SET"/{print $2}')
	get_rps=$(echo "$out" | awk -F'","' '/^"GET"/{print $2}')
	awk -v a="$after" -v b="$before" -v t="$tck" -v n="$N" -v s="$set_rps" -v g="$get_rps" \
		'BEGIN{printf "%s %s %.3f\n", s, g, (a-b)/t/(2*n)*1e6}'
}

start_servers
declare -A SUM_SET SUM_GET SUM_CPU
servers=(redis ch1 chN)
for round in $(seq "$ROUNDS"); do
	for p in 1 16; do
		for s in "${servers[@]}"; do
			read -r set_rps get_rps cpu <<<"$(run "$s" "$p")"
			printf 'round %d  P=%-2s %-5s SET %10s/s  GET %10s/s  CPU %6s us/op\n' "$round" "$p" "$s" "$set_rps" "$get_rps" "$cpu"
			SUM_SET[$s$p]=$(awk -v a="${SUM_SET[$s$p]:-0}" -v b="$set_rps" 'BEGIN{print a+b}')
			SUM_GET[$s$p]=$(awk -v a="${SUM_GET[$s$p]:-0}" -v b="$get_rps" 'BEGIN{print a+b}')
			SUM_CPU[$s$p]=$(awk -v a="${SUM_CPU[$s$p]:-0}" -v b="$cpu" 'BEGIN{print a+b}')
		done
	done
done

echo
echo "Mean of $ROUNDS rounds, -n $N -r 100000 -d 64 -c 50 (ratio: ops/s over redis-server's)"
printf '| %-4s | %-28s | %12s | %12s | %10s | %10s |\n' "-P" "server" "SET ops/s" "GET ops/s" "CPU us/op" "ops ratio"
printf '|------|------------------------------|--------------|--------------|------------|------------|\n'
declare -A names=([redis]="redis-server 7.0" [ch1]="CloudHash 1 loop, GOMAXPROCS=1" [chN]="CloudHash default ($(nproc) loops)")
for p in 1 16; do
	for s in "${servers[@]}"; do
		awk -v p="$p" -v name="${names[$s]}" -v r="$ROUNDS" -v st="${SUM_SET[$s$p]}" -v gt="${SUM_GET[$s$p]}" -v c="${SUM_CPU[$s$p]}" \
			-v rs="${SUM_SET[redis$p]}" -v rg="${SUM_GET[redis$p]}" \
			'BEGIN{printf "| %-4s | %-28s | %12.0f | %12.0f | %10.2f | %4.2f/%4.2f |\n", p, name, st/r, gt/r, c/r, st/rs, gt/rg}'
	done
done
