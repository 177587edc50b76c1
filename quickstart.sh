#!/usr/bin/env bash
# quickstart.sh: sets everything up on a fresh Debian machine and runs the main job:
# installs the Debian packages, builds cnnc, writes the synthetic stand-in data set and
# trains the notebook's model on it (cnnc models/sea.cnn --train).
set -eu
cd "$(dirname "$0")"
pkgs="build-essential autoconf automake pkg-config flex bison libopenblas-dev libstb-dev zlib1g-dev"
pkgs="$pkgs libprotobuf-c-dev protobuf-c-compiler libonnx-dev"     # --export-onnx
missing=$(for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs
fi
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure -q
make -j"$(nproc)"
make demo-data
./cnnc models/sea.cnn --train
