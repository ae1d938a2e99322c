#!/usr/bin/env bash
# generate-protocol.sh - regenerates the Swift code of the dEF-Pi messages
# (Sources/Protocol/Generated/*.pb.swift) from their definitions (Sources/Protocol/Definitions/*.proto),
# and of the sample services' messages (Sources/Services/SampleSupport/samples.proto),
# with protoc (Debian's protobuf-compiler) and protoc-gen-swift of the swift-protobuf version the
# package resolves. The generated files are committed; run this only after changing a .proto file.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
command -v protoc > /dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq protobuf-compiler; }
swift build -c release --product protoc-gen-swift
mkdir -p Sources/Protocol/Generated
protoc --plugin=protoc-gen-swift="$(swift build -c release --show-bin-path)/protoc-gen-swift" \
    --swift_opt=Visibility=Public --swift_out=Sources/Protocol/Generated \
    -I Sources/Protocol/Definitions Service.proto Connection.proto
protoc --plugin=protoc-gen-swift="$(swift build -c release --show-bin-path)/protoc-gen-swift" \
    --swift_opt=Visibility=Public --swift_out=Sources/Services/SampleSupport \
    -I Sources/Services/SampleSupport samples.proto
echo "generated: $(ls Sources/Protocol/Generated Sources/Services/SampleSupport/*.swift)"
