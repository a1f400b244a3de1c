#!/usr/bin/env bash
# Benchmark: the hand-over of 20 documents of 5 MB, `bundle create` (source)
# + `bundle verify` + `bundle open` (destination), against the stock-tool
# script ../shared/bench/bundle-stock.sh (age, sha256sum, zip, ssh-keygen),
# in the same run; then a 1 GiB bundle created, verified and imported, with
# peak RSS of each step (/usr/bin/time).
# Usage: bench/bundle.sh [ROUNDS] [WORKDIR]. Needs age, zip, unzip, ssh-keygen, time.
set -euo pipefail
rounds=${1:-3}
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/handover-bundle-bench.XXXXXX")}
here=$(cd "$(dirname "$0")/.." && pwd)
stock=${STOCK_SCRIPT:-$here/../shared/bench/bundle-stock.sh}
[ -f "$stock" ] || { echo "stock script not found: $stock" >&2; exit 1; }

cargo build --release --quiet --manifest-path "$here/Cargo.toml"
h="$here/target/release/handover"
mkdir -p "$work" && cd "$work"
rm -rf src dst opened* big-* ./*.bundle ./*.times receipt.json

# 20 synthetic PDFs of 5 MB, shared by both contenders.
mkdir -p docs
for i in $(seq -w 1 20); do
  [ -f "docs/doc$i.pdf" ] || { printf '%%PDF-1.7\n'; head -c $((5 * 1000 * 1000 - 16)) /dev/urandom; printf '\n%%%%EOF\n'; } > "docs/doc$i.pdf"
done

k="$here/fixtures/keys"
"$h" --data-dir src init --department rj-dcpu-jaipur --name Bench --keys "$k/rj-dcpu-jaipur" >/dev/null 2>&1
"$h" --data-dir dst init --department br-swd-patna --name Bench --keys "$k/br-swd-patna" >/dev/null 2>&1
"$h" --data-dir src dept add "$here/keys/br-swd-patna.json" >/dev/null 2>&1
"$h" --data-dir dst dept add "$here/keys/rj-dcpu-jaipur.json" >/dev/null 2>&1
child=$("$h" --data-dir src child add --name "Bench Child" 2>/dev/null)
for f in docs/*.pdf; do "$h" --data-dir src doc put "$child" --kind other --title bench "$f" >/dev/null 2>&1; done

secs() { /usr/bin/time -f '%e %M' -o t.one "$@" >/dev/null 2>t.err || { cat t.err >&2; exit 1; }; cat t.one; }
for r in $(seq "$rounds"); do
  rm -rf b.bundle opened
  c=$(secs "$h" --data-dir src bundle create "$child" --to br-swd-patna -o b.bundle --allow-incomplete bench)
  v=$(secs "$h" --data-dir dst bundle verify b.bundle)
  o=$(secs "$h" --data-dir dst bundle open b.bundle --out opened)
  s=$(secs bash "$stock" "$work")
  echo "$c $v $o $s" >> small.times
done
awk '{ h = $1 + $3 + $5; printf "%s %s %s %s %s\n", h, $1, $3, $5, $7 }' small.times | sort -n > small.sorted
mid=$(( (rounds + 1) / 2 ))
read -r total create verify open stockt < <(sed -n "${mid}p" small.sorted)
printf '20 x 5 MB, %s rounds (median by handover total)\n' "$rounds"
printf '| step | seconds |\n|---|---|\n'
printf '| bundle create | %s |\n| bundle verify | %s |\n| bundle open | %s |\n' "$create" "$verify" "$open"
printf '| **handover total** | **%.2f** |\n| stock script (bundle-stock.sh) | %s |\n' "$total" "$stockt"
printf '| speed-up | %.1fx |\n\n' "$(echo "$stockt / $total" | bc -l)"

# 1 GiB: four documents of 256 MiB.
big=$("$h" --data-dir src child add --name "Big Bench Child" 2>/dev/null)
for i in 1 2 3 4; do
  { printf '%%PDF-1.7\n'; head -c $((256 * 1048576 - 16)) /dev/urandom; printf '\n%%%%EOF\n'; } > big-$i.pdf
  "$h" --data-dir src doc put "$big" --kind other --title big big-$i.pdf >/dev/null 2>&1
  rm -f big-$i.pdf
done
printf '| 1 GiB bundle | seconds | peak RSS MiB |\n|---|---|---|\n'
for step in create verify import; do
  case $step in
    create) out=$(secs "$h" --data-dir src bundle create "$big" --to br-swd-patna -o big.bundle --allow-incomplete bench) ;;
    verify) out=$(secs "$h" --data-dir dst bundle verify big.bundle) ;;
    import) out=$(secs "$h" --data-dir dst bundle import big.bundle --receipt receipt.json) ;;
  esac
  read -r t m <<<"$out"
  printf '| bundle %s | %s | %.1f |\n' "$step" "$t" "$(echo "$m / 1024" | bc -l)"
done
printf 'bundle size: %s bytes\n' "$(stat -c %s big.bundle)"
