#!/bin/sh
# prepare.sh: put a static busybox binary into this build context, so that `kyb build` can COPY it.
# The binary is not kept in git (see .gitignore); BUSYBOX=/path/to/busybox picks another one.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${BUSYBOX:-/usr/bin/busybox}
if [ ! -x "$src" ]; then
    echo "prepare.sh: $src not found: install busybox-static (apt-get install busybox-static) or set BUSYBOX" >&2
    exit 1
fi
# The image has no libraries: a dynamically linked busybox would not start in it.
if command -v file >/dev/null 2>&1 && ! file -L "$src" | grep -q "statically linked"; then
    echo "prepare.sh: $src is not statically linked: install busybox-static" >&2
    exit 1
fi
cp "$src" "$here/busybox"
chmod 0755 "$here/busybox"
echo "copied $src to $here/busybox"
