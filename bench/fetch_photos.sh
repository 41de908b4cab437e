#!/usr/bin/env bash
# Fetches large real photographs for the indexing benchmarks: the JPEGs of
# Debian's lomiri-wallpapers packages (19 photos, 1.5 to 24 megapixels).
# They land in bench/data/photos/ (git-ignored). Safe to run again: what is
# already there is neither downloaded nor copied twice.
#
# Needs apt-get and dpkg-deb (any Debian or Ubuntu) and the network, once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${here}/data"
packages=(lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)

mkdir -p "${data}/debs" "${data}/extracted" "${data}/photos"

find_deb() { find "${data}/debs" -maxdepth 1 -name "${1}_*.deb" | sort | tail -n 1; }

download() {
  local package="$1"
  if (cd "${data}/debs" && apt-get download "${package}"); then return 0; fi
  if [[ $(id -u) -eq 0 ]]; then
    echo "fetch_photos: apt-get download ${package} failed; refreshing the package lists and trying again" >&2
    apt-get update -qq
    (cd "${data}/debs" && apt-get download "${package}") && return 0
  fi
  echo "fetch_photos: cannot download ${package}. Run 'apt-get update' (as root) and try again," >&2
  echo "or put ${package}_*.deb into ${data}/debs/ by hand." >&2
  exit 1
}

for package in "${packages[@]}"; do
  deb="$(find_deb "${package}")"
  if [[ -z "${deb}" ]]; then
    download "${package}"
    deb="$(find_deb "${package}")"
  fi
  extracted="${data}/extracted/${package}"
  if [[ ! -d "${extracted}" ]]; then
    rm -rf "${extracted}.partial"
    dpkg-deb -x "${deb}" "${extracted}.partial"
    mv "${extracted}.partial" "${extracted}"
  fi
  # Package name as a prefix: the two packages may share file names.
  while IFS= read -r -d '' photo; do
    target="${data}/photos/${package}--$(basename "${photo}")"
    [[ -e "${target}" ]] || cp "${photo}" "${target}"
  done < <(find "${extracted}" -type f \( -iname '*.jpg' -o -iname '*.jpeg' \) -print0)
done

count="$(find "${data}/photos" -type f | wc -l)"
size="$(du -sh "${data}/photos" | cut -f1)"
echo "fetch_photos: ${count} photos (${size}) in ${data}/photos"
