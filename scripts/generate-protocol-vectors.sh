#!/usr/bin/env bash
# generate-protocol-vectors.sh - fills in the third column of Tests/ProtocolTests/Vectors/messages.tsv
# (the protobuf bytes in hex) by encoding the text-format message of each line with protoc, the
# reference encoder, so defpi's own encoder is checked against an independent one.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
command -v protoc > /dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq protobuf-compiler; }
vectors=Tests/ProtocolTests/Vectors/messages.tsv
output=$(mktemp)
while IFS= read -r line; do
    if [[ -z "$line" || "$line" == \#* ]]; then echo "$line"; continue; fi
    IFS=$'\t' read -r type text _ <<< "$line"
    hex=$(printf '%s' "$text" | protoc --encode="$type" -I Sources/Protocol/Definitions Service.proto Connection.proto \
        | od -An -v -tx1 | tr -d ' \n')
    printf '%s\t%s\t%s\n' "$type" "$text" "$hex"
done < "$vectors" > "$output"
mv "$output" "$vectors"
echo "encoded $(grep -vc '^#' "$vectors") vectors"
