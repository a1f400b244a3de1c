#!/usr/bin/env bash
# Benchmark: handover doc put/get against the stock age CLI on the same file,
# same disk, in one run. Reports wall time (median of ROUNDS) and peak RSS
# (/usr/bin/time -v). Usage: bench/vault-io.sh [SIZE_MIB] [ROUNDS] [WORKDIR]
# Needs: age, /usr/bin/time (Debian packages `age`, `time`).
set -euo pipefail
size_mib=${1:-1024}
rounds=${2:-3}
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/handover-bench.XXXXXX")}
here=$(cd "$(dirname "$0")/.." && pwd)

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bin="$here/target/release/handover"
mkdir -p "$work"
cd "$work"
rm -rf node stock && mkdir stock

# A synthetic PDF: header, pseudo-random body, trailer.
if [ ! -f doc.pdf ] || [ "$(stat -c %s doc.pdf)" -ne $((size_mib * 1048576)) ]; then
  { printf '%%PDF-1.7\n'; head -c $((size_mib * 1048576 - 16)) /dev/urandom; printf '\n%%%%EOF\n'; } > doc.pdf
fi
"$bin" --data-dir node init --department bench-dept --name Bench >/dev/null 2>&1
child=$("$bin" --data-dir node child add --name "Bench Child" 2>/dev/null)
age-keygen -o stock/key.txt 2>/dev/null
recipient=$(age-keygen -y stock/key.txt)

# run LABEL CMD... : appends "seconds rss_kib" to LABEL.times
run() {
  local label=$1; shift
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  /usr/bin/time -f '%e %M' -o "$label.one" "$@" >/dev/null 2>"$label.err" || { cat "$label.err" >&2; exit 1; }
  cat "$label.one" >> "$label.times"
}
rm -f ./*.times
for _ in $(seq "$rounds"); do
  rm -f stock/doc.age stock/out.pdf out.pdf
  # put fsyncs the blob before it commits; `sync FILE` gives stock age the same durability.
  run age_encrypt sh -c "age -r $recipient -o stock/doc.age doc.pdf && sync stock/doc.age"
  run put "$bin" --data-dir node doc put "$child" --kind medical_report doc.pdf
  id=$("$bin" --data-dir node doc list "$child" --json | grep -o '"id": "[^"]*"' | tail -1 | cut -d'"' -f4)
  # get -o OUT fsyncs OUT.partial before renaming it into place; same for stock age.
  run age_decrypt sh -c "age -d -i stock/key.txt -o stock/out.pdf stock/doc.age && sync stock/out.pdf"
  run get "$bin" --data-dir node doc get "$id" -o out.pdf
  # Streams without any file written: decryption and hashing alone.
  run age_decrypt_pipe sh -c "age -d -i stock/key.txt stock/doc.age > /dev/null"
  run get_pipe sh -c "'$bin' --data-dir node doc get '$id' -o - > /dev/null"
  rm -f out.pdf
  "$bin" --data-dir node doc get "$id" -o out.pdf 2>/dev/null
done
cmp -s out.pdf doc.pdf && cmp -s stock/out.pdf doc.pdf || { echo "round trip mismatch" >&2; exit 1; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
stat_of() { # LABEL COLUMN
  awk -v c="$2" '{print $c}' "$1.times" | median
}
printf '%s MiB, %s rounds, median wall time; peak RSS is the max over rounds\n' "$size_mib" "$rounds"
printf 'put/get: handover fsyncs what it writes, stock age is followed by `sync FILE`; *_pipe: to /dev/null\n'

printf '| operation | handover s | stock age s | ratio | handover peak RSS MiB | age peak RSS MiB |\n|---|---|---|---|---|---|\n'
for pair in "put age_encrypt" "get age_decrypt" "get_pipe age_decrypt_pipe"; do
  set -- $pair
  h=$(stat_of "$1" 1); a=$(stat_of "$2" 1)
  hr=$(awk '{print $2}' "$1.times" | sort -n | tail -1); ar=$(awk '{print $2}' "$2.times" | sort -n | tail -1)
  printf '| %s | %s | %s | %.2f× | %.1f | %.1f |\n' "$1" "$h" "$a" "$(echo "$h / $a" | bc -l)" "$(echo "$hr / 1024" | bc -l)" "$(echo "$ar / 1024" | bc -l)"
done
grep -o 'sha_ni' /proc/cpuinfo | head -1 | sed 's/^/cpu: /' || echo "cpu: no sha_ni"
