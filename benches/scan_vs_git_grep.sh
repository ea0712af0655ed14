#!/usr/bin/env bash
# `seamguard scan --all` against `git grep` on the same generated tree, in
# the same run.
#
# Usage: benches/scan_vs_git_grep.sh [SIZE_MB] [FILE_KB]
#   SIZE_MB  total size of the generated text tree (default 500)
#   FILE_KB  average file size (default 16)
# Environment: KEEP=1 keeps the generated repository (its path is printed),
# REUSE=path times a kept one again; SEAMGUARD_BIN=path skips the build;
# RUNS (default 5) timed runs per command; CARGO_TARGET_DIR as usual;
# BEFORE=path/to/seamguard times another build too, in the same run (with
# hyperfine); ATTRIBUTES=1 commits a root `.gitattributes` that widens the
# markers of `*.adoc` (none in the tree), so widths must be asked of git.
#
# The tree is source-like text with `=`, `<`, `>` and `|` everywhere, a few
# Markdown setext headings, and a handful of real conflicts so both tools
# report something. Every file is distinct (no shared blobs to skip), and the
# repository is packed (`git repack -a -d`) the way a clone is. Both commands
# read the committed tree (HEAD), from a warm page cache.
set -euo pipefail

SIZE_MB=${1:-500}
FILE_KB=${2:-16}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '\n== %s\n' "$*" >&2; }

if [[ -n "${SEAMGUARD_BIN:-}" ]]; then
    SEAMGUARD=$SEAMGUARD_BIN
else
    say "building seamguard (release)"
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin seamguard
    TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    SEAMGUARD=$TARGET_DIR/release/seamguard
fi
test -x "$SEAMGUARD"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/seamguard-bench.XXXXXX")
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$WORK"' EXIT; fi
REPO=$WORK/repo
if [[ -n "${REUSE:-}" ]]; then
    # A repository kept by an earlier run (KEEP=1): time it again.
    REPO=$REUSE
fi
mkdir -p "$REPO"

if [[ -z "${REUSE:-}" ]]; then
say "generating ${SIZE_MB} MB of text in ${FILE_KB} KB files under $REPO"
python3 - "$REPO" "$SIZE_MB" "$FILE_KB" <<'PY'
import os, random, sys
root, size_mb, file_kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20240611)
tokens = ["let", "x", "=", "==", "=>", "<", ">", "<<", ">>", "|", "||", "fn", "(", ")", "{", "}",
          ";", "value", "Vec<u8>", "self.items", "+", "-", "if", "return", "match", "//",
          "a_long_identifier_name", "0x1f", '"string literal"', "&mut", "::", "->", "<=", ">=", "!="]
pool = []
for _ in range(20000):
    indent = " " * (4 * rng.randrange(4))
    pool.append(indent + " ".join(rng.choices(tokens, k=rng.randrange(3, 14))) + "\n")
pool += ["Section title\n=======\n", "========================================\n"]
conflict = "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> feature\n"
target = size_mb * 1000 * 1000
avg_lines = max(1, file_kb * 1024 // 40)
written, n = 0, 0
while written < target:
    d = os.path.join(root, f"d{n // 500:03d}")
    if n % 500 == 0:
        os.makedirs(d, exist_ok=True)
    lines = rng.choices(pool, k=rng.randrange(avg_lines // 2, avg_lines * 3 // 2 + 1))
    body = f"// file {n}: {rng.getrandbits(64):016x}\n" + "".join(lines)
    if n % 2500 == 1234:
        body += conflict
    with open(os.path.join(d, f"f{n:06d}.rs"), "w") as f:
        f.write(body)
    written += len(body)
    n += 1
print(f"{n} files, {written / 1e6:.0f} MB", file=sys.stderr)
PY

say "committing and packing"
git -C "$REPO" init -q -b main
if [[ "${ATTRIBUTES:-0}" == 1 ]]; then
    printf '*.adoc conflict-marker-size=32\n' >"$REPO/.gitattributes"
fi
git -C "$REPO" add -A
git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -q -m tree
git -C "$REPO" repack -a -d -q
fi
git -C "$REPO" count-objects -vH | grep -E 'size-pack|in-pack' >&2
echo "tree: $(git -C "$REPO" ls-tree -r HEAD | wc -l) files" >&2

GREP="git grep -lE '^(<<<<<<< |=======\$|>>>>>>> )' HEAD"
SCAN="$SEAMGUARD scan --all"
say "sanity: every file seamguard flags is one git grep lists"
# git grep's pattern also matches setext headings, which seamguard rightly
# skips, so it lists more files; seamguard must list none it does not.
(cd "$REPO" && eval "$GREP" | sed 's/^HEAD://' | sort) >"$WORK/grep.txt" || true
(cd "$REPO" && $SCAN 2>/dev/null | cut -d: -f1 | sort -u) >"$WORK/scan.txt" || true
extra=$(comm -13 "$WORK/grep.txt" "$WORK/scan.txt" | wc -l)
echo "git grep: $(wc -l <"$WORK/grep.txt") files; seamguard: $(wc -l <"$WORK/scan.txt") files; flagged by seamguard only: $extra" >&2
test "$extra" -eq 0
test -s "$WORK/scan.txt"

say "timing ($RUNS runs each, 1 warm-up)"
cd "$REPO"
if command -v hyperfine >/dev/null; then
    # Both exit 1 when they find something: -i keeps those runs.
    before=()
    if [[ -n "${BEFORE:-}" ]]; then
        before=(-n "seamguard scan --all (before)" "$BEFORE scan --all")
    fi
    hyperfine -N -i -w 1 -r "$RUNS" --export-json "$WORK/times.json" \
        -n "seamguard scan --all" "$SCAN" \
        "${before[@]}" \
        -n "git grep" "$GREP" >&2
    python3 - "$WORK/times.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
g = r["git grep"]
for name, x in r.items():
    print(f"{name:32} median {x['median']:.3f} s (mean {x['mean']:.3f} ± {x['stddev']:.3f}, min {x['min']:.3f}, user {x['user']:.2f} s, system {x['system']:.2f} s)")
for name, x in r.items():
    if name != "git grep":
        print(f"ratio ({name} / git grep): medians {x['median'] / g['median']:.2f}, minima {x['min'] / g['min']:.2f}, CPU (user+system) {(x['user'] + x['system']) / (g['user'] + g['system']):.2f}")
PY
else
    time_it() {
        local best=
        for _ in $(seq "$RUNS"); do
            local t0 t1
            t0=$(date +%s%N); eval "$1" >/dev/null 2>&1 || true; t1=$(date +%s%N)
            local ms=$(((t1 - t0) / 1000000))
            if [[ -z "$best" || $ms -lt $best ]]; then best=$ms; fi
        done
        echo "$best"
    }
    eval "$SCAN" >/dev/null 2>&1 || true
    s=$(time_it "$SCAN"); g=$(time_it "$GREP")
    echo "seamguard scan --all: best ${s} ms"
    echo "git grep:             best ${g} ms"
    python3 -c "print(f'ratio (seamguard / git grep, best): {$s / $g:.2f}')"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), git $(git --version | cut -d' ' -f3)"
if [[ "${KEEP:-0}" == 1 ]]; then echo "repository kept at $REPO" >&2; fi
