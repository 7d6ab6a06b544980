#!/bin/sh
# test-afl.sh VMM AFL_FUZZ AFL_SHOWMAP: `vmm afl` under Debian's unmodified
# afl++ (suite integration; skips, 77, without /dev/kvm or afl++).
#
# The target is the built-in `aflme` guest (guest-images/aflme.c): a crash
# behind the 4-byte magic "VMM!" compared byte by byte, hangs on "HANG",
# smashes its stack on "SMSH", ud2 (abort) on "ABRT".
#  1. directory mode (`vmm fuzz`) replaying the seeds finds no crash;
#  2. afl-fuzz finds the crash within its -V budget, with no
#     AFL_SKIP_BIN_CHECK (the binary check must pass), and the crash it
#     saved starts with the magic and crashes `vmm afl` alone;
#  3. afl-showmap -r gives the map the guest left in its memory (`vmm afl
#     --map`), through the fork server (-i) and without it (one file);
#  4. a hang is a hang (afl-showmap's status 1), SMSH and ABRT are crashes
#     (status 2), and the fork server survives afl-showmap's SIGKILL of
#     the hang: the next input in the same session gets its map;
#  5. afl-cmin keeps a corpus with every edge of the whole (not both of two
#     equal inputs), afl-tmin cuts a long crash down to the magic, and two
#     instances (-M/-S) fuzz side by side through one output directory;
#  5b. a static Linux program (tests/linux/progs/fuzz-target.c on
#     guest-images/linux/vmm-fuzz-driver.c): its edges reach afl-showmap
#     (one more per byte of the magic), afl-fuzz finds a crash (the magic
#     as a dictionary token), which replays under vmm afl and natively;
#  no vmm process is left once afl-fuzz, afl-showmap and the others are done;
#  6. a guest that never reaches its snapshot point fails the handshake
#     with vmm's message on stderr (AFL_DEBUG_CHILD=1 shows it).
# The environment below is about the host afl-fuzz runs on (no CPU
# frequency scaling files, core_pattern), not about the target.
set -u
vmm=$1 afl_fuzz=$2 afl_showmap=$3 linux_target=$4 afl_cmin=$5 afl_tmin=$6
fail() { echo "FAIL: $*"; exit 1; }
[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: no usable /dev/kvm"; exit 77; }
[ -x "$afl_fuzz" ] && [ -x "$afl_showmap" ] || { echo "SKIP: afl++ not installed (afl-fuzz, afl-showmap)"; exit 77; }
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
	AFL_NO_UI=1 AFL_QUIET=1 AFL_FORKSRV_INIT_TMOUT=60000
unset AFL_SKIP_BIN_CHECK
# A sanitizer build of vmm (CI's ASan run): afl-fuzz refuses custom
# ASAN_OPTIONS/LSAN_OPTIONS unless they abort and do not symbolize.
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:abort_on_error=1:symbolize=0"
[ -n "${LSAN_OPTIONS:-}" ] && export LSAN_OPTIONS="$LSAN_OPTIONS:symbolize=0"
budget=40
[ -n "${NESTED_LANE:-}" ] && budget=120
w=$(mktemp -d /tmp/test-afl.XXXXXX) || fail "mktemp"
trap 'rm -rf "$w"' EXIT
mkdir "$w/in" "$w/one" "$w/hang" "$w/bad"
printf 'AAAA' >"$w/in/a"
printf 'B1x;' >"$w/in/b"

vmm_left() {
	for f in /proc/[0-9]*/cmdline; do
		tr '\0' ' ' <"$f" 2>/dev/null | grep -q "^$vmm afl" && return 0
	done
	return 1
}

echo "== 1. vmm fuzz replays the seeds: no crash"
"$vmm" fuzz --guest aflme --inputs "$w/in" >"$w/fuzz.out" 2>&1 || { cat "$w/fuzz.out"; fail "vmm fuzz found a crash in the seeds"; }

echo "== 2. afl-fuzz finds the magic (-V $budget)"
t0=$(date +%s)
AFL_BENCH_UNTIL_CRASH=1 "$afl_fuzz" -i "$w/in" -o "$w/out" -D -s 7 -t 1000 -V "$budget" \
	-- "$vmm" afl --guest aflme --stats "$w/stats" -- @@ >"$w/afl.out" 2>&1
rc=$?
t1=$(date +%s)
echo "afl-fuzz exited $rc after $((t1 - t0)) s"
cat "$w/stats" 2>/dev/null
grep -E 'execs_done|execs_per_sec|bitmap_cvg|saved_crashes|saved_hangs|stability' "$w/out/default/fuzzer_stats" 2>/dev/null
crash=$(ls "$w/out/default/crashes"/id:* 2>/dev/null | head -n 1)
[ -n "$crash" ] || { tail -n 40 "$w/afl.out"; ls "$w/out/default/queue"; fail "afl-fuzz found no crash in $budget s"; }
head -c 4 "$crash" | grep -q '^VMM!$' || fail "the crash does not start with the magic: $(head -c 16 "$crash" | od -c | head -n 2)"
"$vmm" afl --guest aflme <"$crash" >/dev/null 2>"$w/replay.err"
rc=$?
[ "$rc" -eq 101 ] || { cat "$w/replay.err"; fail "replaying the crash alone: exit $rc, not 101"; }
grep -q 'signal 11' "$w/replay.err" || fail "the crash is not a SIGSEGV: $(cat "$w/replay.err")"
vmm_left && fail "a vmm afl process outlived afl-fuzz"

echo "== 3. afl-showmap gives the map the guest left in its memory"
printf 'Q7zV' >"$w/one/q"
"$vmm" afl --guest aflme --map "$w/raw" <"$w/one/q" >/dev/null || fail "vmm afl --map"
od -An -v -tu1 "$w/raw" | awk '{ for (i = 1; i <= NF; i++) { if ($i) printf "%06u:%u\n", n, $i; n++ } }' >"$w/expected"
[ -s "$w/expected" ] || fail "the guest's map is empty"
"$afl_showmap" -q -r -t 2000 -i "$w/one" -o "$w/maps" -- "$vmm" afl --guest aflme >"$w/sm.out" 2>&1 ||
	{ cat "$w/sm.out"; fail "afl-showmap -i (fork server) failed"; }
cmp -s "$w/expected" "$w/maps/q" || { diff "$w/expected" "$w/maps/q" | head; fail "afl-showmap -i: not the guest's map"; }
"$afl_showmap" -q -r -t 2000 -o "$w/map1" -- "$vmm" afl --guest aflme <"$w/one/q" >"$w/sm1.out" 2>&1 ||
	{ cat "$w/sm1.out"; fail "afl-showmap (one file, no fork server) failed"; }
cmp -s "$w/expected" "$w/map1" || { diff "$w/expected" "$w/map1" | head; fail "afl-showmap: not the guest's map"; }
echo "map: $(wc -l <"$w/expected") edges, the same three ways"

echo "== 4. hang, stack smash, abort; the fork server survives the kill"
printf 'HANG' >"$w/hang/a-hang"
cp "$w/one/q" "$w/hang/b-after"
"$afl_showmap" -q -r -t 500 -i "$w/hang" -o "$w/hmaps" -- "$vmm" afl --guest aflme >"$w/hang.out" 2>&1
rc=$?
cmp -s "$w/expected" "$w/hmaps/b-after" || { cat "$w/hang.out"; fail "no map for the input after the hang: the VMM did not survive the kill"; }
printf 'HANG' >"$w/one/q"
"$afl_showmap" -q -r -t 500 -i "$w/one" -o "$w/hmaps2" -- "$vmm" afl --guest aflme >"$w/hang2.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || { cat "$w/hang2.out"; fail "HANG: afl-showmap status $rc, not 1 (timeout)"; }
for c in SMSH ABRT; do
	printf '%s' "$c" >"$w/one/q"
	"$afl_showmap" -q -r -t 2000 -i "$w/one" -o "$w/cmaps" -- "$vmm" afl --guest aflme >"$w/c.out" 2>&1
	rc=$?
	[ "$rc" -eq 2 ] || { cat "$w/c.out"; fail "$c: afl-showmap status $rc, not 2 (crash)"; }
done
vmm_left && fail "a vmm afl process outlived afl-showmap"

echo "== 5. afl-cmin and afl-tmin through the same fork server; -M/-S instances"
# afl-cmin refuses /tmp and /var/tmp (for predictable names others could
# plant) unless AFL_ALLOW_TMP: its corpus goes under the working directory,
# in a mktemp directory, and a checkout under /tmp (vmm itself there) gets
# AFL_ALLOW_TMP - the directories are this test's own.
[ -x "$afl_cmin" ] && [ -x "$afl_tmin" ] || fail "afl++ without afl-cmin/afl-tmin ($afl_cmin, $afl_tmin)"
c=$(mktemp -d "$PWD/test-afl-cmin.XXXXXX") || fail "mktemp in $PWD"
trap 'rm -rf "$w" "$c"' EXIT
mkdir "$c/in"
printf 'AAAA' >"$c/in/a1"
printf 'AAAA' >"$c/in/a2"
printf 'VMxx' >"$c/in/v"
printf 'Q7zV' >"$c/in/q"
"$afl_showmap" -q -r -t 2000 -i "$c/in" -o "$c/allmaps" -- "$vmm" afl --guest aflme >/dev/null 2>&1 ||
	fail "afl-showmap over the cmin corpus"
(cd "$c" && AFL_ALLOW_TMP=1 AFL_PATH=$(dirname "$afl_showmap") "$afl_cmin" -i in -o min -t 2000 -- "$vmm" afl --guest aflme) >"$w/cmin.out" 2>&1 ||
	{ tail -n 20 "$w/cmin.out"; fail "afl-cmin failed"; }
kept=$(ls "$c/min" | wc -l)
[ "$kept" -ge 1 ] && [ "$kept" -lt 4 ] || fail "afl-cmin kept $kept of 4 inputs (two are the same)"
[ -e "$c/min/a1" ] && [ -e "$c/min/a2" ] && fail "afl-cmin kept both copies of one input"
# The kept inputs cover every edge the whole corpus covers.
cut -d: -f1 "$c"/allmaps/* | sort -u >"$c/all-edges"
"$afl_showmap" -q -r -t 2000 -i "$c/min" -o "$c/minmaps" -- "$vmm" afl --guest aflme >/dev/null 2>&1
cut -d: -f1 "$c"/minmaps/* | sort -u >"$c/min-edges"
cmp -s "$c/all-edges" "$c/min-edges" || fail "afl-cmin's corpus lost edges: $(diff "$c/all-edges" "$c/min-edges" | head -n 5)"
printf 'VMM!and a tail afl-tmin must cut' >"$w/crash-long"
"$afl_tmin" -i "$w/crash-long" -o "$w/crash-min" -t 2000 -- "$vmm" afl --guest aflme >"$w/tmin.out" 2>&1 ||
	{ tail -n 20 "$w/tmin.out"; fail "afl-tmin failed"; }
[ "$(cat "$w/crash-min")" = 'VMM!' ] || fail "afl-tmin minimised the crash to '$(od -c "$w/crash-min" | head -n 2)', not VMM!"
echo "cmin: $kept of 4 inputs keep all $(wc -l <"$c/all-edges") edges; tmin: $(wc -c <"$w/crash-long") bytes -> VMM!"
# Two instances syncing through one output directory (-M main, -S secondary).
"$afl_fuzz" -i "$w/in" -o "$w/par" -M m -s 1 -t 1000 -V 10 -- "$vmm" afl --guest aflme -- @@ >"$w/m.out" 2>&1 &
mpid=$!
"$afl_fuzz" -i "$w/in" -o "$w/par" -S s -s 2 -t 1000 -V 10 -- "$vmm" afl --guest aflme -- @@ >"$w/s.out" 2>&1
src=$?
wait "$mpid"
mrc=$?
[ "$mrc" -eq 0 ] && [ "$src" -eq 0 ] || { tail -n 20 "$w/m.out" "$w/s.out"; fail "-M/-S: afl-fuzz exited $mrc and $src"; }
for i in m s; do
	execs=$(sed -n 's/^execs_done *: *//p' "$w/par/$i/fuzzer_stats")
	[ "${execs:-0}" -gt 0 ] || fail "-M/-S: instance $i ran no input"
	echo "-M/-S: instance $i: $execs execs, $(sed -n 's/^execs_per_sec *: *//p' "$w/par/$i/fuzzer_stats")/s"
done
vmm_left && fail "a vmm afl process outlived the -M/-S instances"

echo "== 5b. a static Linux program (libFuzzer harness on vmm-fuzz-driver.c)"
# Its coverage reaches afl: each byte of the magic matched is one more edge.
rm -rf "$w/lsm" "$w/lsmo"
mkdir "$w/lsm"
for i in xxxx Vxxx VMxx VMMx; do printf '%s' "$i" >"$w/lsm/$i"; done
"$afl_showmap" -q -r -t 2000 -i "$w/lsm" -o "$w/lsmo" -- "$vmm" afl --guest "$linux_target" >"$w/lsm.out" 2>&1 ||
	{ cat "$w/lsm.out"; fail "afl-showmap over the Linux program failed"; }
prev=0
for i in xxxx Vxxx VMxx VMMx; do
	n=$(wc -l <"$w/lsmo/$i")
	[ "$n" -gt "$prev" ] || fail "the Linux program's map for $i has $n edges, not more than the last ($prev)"
	prev=$n
done
# afl-fuzz drives it to a crash. Its runs make system calls (several exits
# each), so it gets the magic as a dictionary token: finding it edge by
# edge is aflme's test (2.); this one is the fork server, the map and the
# crash of a Linux program.
rm -rf "$w/lout" "$w/lin"
mkdir "$w/lin"
printf 'B1x;' >"$w/lin/b"
printf 'magic="VMM!"\n' >"$w/dict"
AFL_BENCH_UNTIL_CRASH=1 "$afl_fuzz" -i "$w/lin" -o "$w/lout" -x "$w/dict" -s 7 -t 1000 -V "$budget" \
	-- "$vmm" afl --guest "$linux_target" >"$w/lafl.out" 2>&1
rc=$?
grep -E 'execs_done|execs_per_sec|saved_crashes' "$w/lout/default/fuzzer_stats" 2>/dev/null
crash=$(ls "$w/lout/default/crashes"/id:* 2>/dev/null | head -n 1)
[ -n "$crash" ] || { tail -n 40 "$w/lafl.out"; fail "afl-fuzz found no crash in the Linux program in $budget s (exit $rc)"; }
"$vmm" afl --guest "$linux_target" <"$crash" >/dev/null 2>"$w/lreplay.err"
[ $? -eq 101 ] || { cat "$w/lreplay.err"; fail "replaying the Linux program's crash: not a crash"; }
grep -qE 'signal (11|6)' "$w/lreplay.err" || fail "the Linux program's crash is no SIGSEGV/SIGABRT: $(cat "$w/lreplay.err")"
# The same binary natively, outside vmm: it reads stdin and crashes alike.
"$linux_target" <"$crash" >/dev/null 2>&1
[ $? -gt 128 ] || fail "the Linux program does not crash natively on its crash input"
vmm_left && fail "a vmm afl process outlived afl-fuzz (Linux program)"

echo "== 6. a guest without a snapshot point: vmm's message, a failed handshake"
printf 'x' >"$w/bad/x"
AFL_DEBUG_CHILD=1 "$afl_showmap" -r -t 2000 -i "$w/bad" -o "$w/bmaps" -- "$vmm" afl --guest hello --ready-timeout 2000 >"$w/bad.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "afl-showmap ran a guest that never reaches its snapshot point"
grep -q 'vmm afl: the guest stopped before its snapshot point' "$w/bad.out" || { cat "$w/bad.out"; fail "no message from vmm afl"; }
"$vmm" afl >"$w/usage.out" 2>&1
[ $? -eq 2 ] && grep -q -- '--guest is required' "$w/usage.out" || fail "vmm afl without --guest: $(cat "$w/usage.out")"
echo "ok"
