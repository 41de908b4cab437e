#!/bin/sh
# Checks the systemd units: `systemd-analyze verify` on each, and the system
# unit's exposure from `systemd-analyze security` (must be 2.0 or lower).
# The units name the installed binary; the copies checked here name the one
# given (the build's), the only difference.
# Usage: systemd/check_units.sh BUILT_IMGSEARCHD
set -eu
binary=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|^ExecStart=/usr/local/bin/imgsearchd|ExecStart=$binary|" "$here/imgsearchd.service" >"$work/imgsearchd.service"
sed "s|^ExecStart=%h/.local/bin/imgsearchd|ExecStart=$binary|" "$here/imgsearchd-user.service" >"$work/imgsearchd-user.service"
grep -q "^ExecStart=$binary" "$work/imgsearchd.service"
grep -q "^ExecStart=$binary" "$work/imgsearchd-user.service"
systemd-analyze verify "$work/imgsearchd.service"
mkdir -p "$work/runtime" && chmod 0700 "$work/runtime"
XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work/runtime} systemd-analyze --user verify "$work/imgsearchd-user.service"
exposure=$(systemd-analyze security --offline=yes "$work/imgsearchd.service" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "system unit exposure: $exposure"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }'
# The launchd plist is well-formed and names the same command.
/usr/bin/python3 - "$here/org.imgsearchd.plist" <<'PY'
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    plist = plistlib.load(f)
assert plist["ProgramArguments"][-1] == "serve", plist["ProgramArguments"]
print("launchd plist: well-formed")
PY
