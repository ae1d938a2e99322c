#!/usr/bin/env bash
# fuzz.sh [SECONDS] - fuzzes the protocol decoder (frames, then messages) with libFuzzer for SECONDS
# (default 30): builds Fuzz/ with AddressSanitizer and coverage instrumentation, seeds the corpus with
# the golden vectors as frames, and prints how many inputs ran. A crash or sanitizer report fails
# the script; libFuzzer leaves the input that caused it as Fuzz/crash-* for a regression test.
set -euo pipefail
cd "$(dirname "$0")/../Fuzz"
seconds=${1:-30}

# libFuzzer's driver without its main (the fuzzer has its own), from the Swift toolchain.
toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swiftc)")")")
driver=$(find "$toolchain/lib" -name "libclang_rt.fuzzer_no_main-$(uname -m).a" | head -1)
[ -n "$driver" ] || { echo "fuzz.sh: libclang_rt.fuzzer_no_main not found under $toolchain/lib" >&2; exit 1; }
swift build -c release --product ProtocolFuzzer \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
    -Xlinker "$driver" -Xlinker -lstdc++

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
python3 - "$corpus" ../Tests/ProtocolTests/Vectors/messages.tsv <<'PYTHON'
import sys
corpus, vectors = sys.argv[1], sys.argv[2]
for index, line in enumerate(open(vectors)):
    if not line.strip() or line.startswith("#"):
        continue
    kind, _, body = line.rstrip("\n").split("\t")
    name = kind.split(".")[-1].encode()
    payload = bytes([len(name)]) + name + bytes.fromhex(body)
    open(f"{corpus}/vector-{index}", "wb").write(len(payload).to_bytes(4, "big") + payload + b"\xff")
PYTHON

log=$(mktemp)
if ! "$(swift build -c release --show-bin-path)/ProtocolFuzzer" -max_total_time="$seconds" -max_len=4096 "$corpus" > "$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz.sh: the protocol decoder failed on a fuzzed input (see above)" >&2
    exit 1
fi
runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
echo "fuzz.sh: protocol decoder: ${runs}s, no crash"
rm -f "$log"
