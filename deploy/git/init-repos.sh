#!/bin/sh
# Makes the example's repositories on the first start, then serves them.
set -eu
cd /srv/git
if [ ! -d app.git ]; then
    git init -q --bare --initial-branch=main app.git
    work=$(mktemp -d)
    git -C "$work" init -q --initial-branch=main
    echo "version: 1" > "$work/app.txt"
    git -C "$work" add app.txt
    git -C "$work" -c user.name=example -c user.email=example@lading.invalid commit -q -m "version 1"
    git -C "$work" push -q /srv/git/app.git main
    rm -rf "$work"
fi
[ -d gitops.git ] || git init -q --bare --initial-branch=main gitops.git
exec git daemon --reuseaddr --base-path=/srv/git --export-all --enable=receive-pack \
    --informative-errors --listen=0.0.0.0 --port=9418 /srv/git
