#!/usr/bin/env bash
# Installs every Debian package imgsearchd needs and builds it into build/.
# Usage: scripts/setup.sh [--no-install]   (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" != "--no-install" ]]; then
  packages=$(grep -v '^#' scripts/debian-packages.txt | grep -v '^$' | tr '\n' ' ')
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
  # The web page's browser test runs playwright-core under Node.js. Some
  # machines bring their own Node.js (and npm with it); install Debian's only
  # where there is none, so the two never clash.
  if ! command -v npm >/dev/null; then
    $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  # libtorch must use OpenBLAS built with OpenMP (as libtorch itself is):
  # the reference BLAS is about 25x slower, and the pthread OpenBLAS fights
  # libtorch's OpenMP threads for the cores. libopenblas.so.0 needs its own
  # alternative: the OpenMP libblas.so.3 loads it by that name, and Debian's
  # default for it is the pthread build (measured: 5-10x slower inference).
  arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    $sudo update-alternatives --set "$lib-$arch" "/usr/lib/$arch/openblas-openmp/$lib" >/dev/null
  done
fi

cmake --preset default >/dev/null
cmake --build build --parallel "$(nproc)"
echo "setup: built build/daemon/imgsearchd"
