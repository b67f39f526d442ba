#!/usr/bin/env bash
# fetch-cjson.sh: gets cJSON's upstream source for the WebAssembly build,
# without copying it into this repository.
#
# Natively the engine links Debian's libcjson; emscripten needs the C source.
# We take it from Debian's source package, so it is the same code Debian
# ships, fetched by apt (which checks the Sources index against Debian's
# signed Release file, and the .dsc's checksums against the downloaded files).
#
# The deb-src entry exists only for this script's own apt calls: a temporary
# sources file, parts folder, lists folder and cache are passed as apt options,
# and /etc/apt is never touched. The source lands in .deps/cjson/ (git-ignored);
# a second run reuses it and only re-checks the checksums.
#
# Prints, as its last line on stdout, the folder holding cJSON.c.
# Environment: NN_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              NN_DEBIAN_SUITE (default: this system's codename).
set -euo pipefail

die() { echo "fetch-cjson: error: $*" >&2; exit 1; }
say() { echo "fetch-cjson: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.deps/cjson"

# .deps/ must be ignored, or a careless `git add` would commit cJSON.
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    # (.deps itself: it may be a symlink, which git will not look through.)
    git -C "$ROOT" check-ignore -q .deps \
        || die ".deps is not git-ignored; add '/.deps' to $ROOT/.gitignore first"
fi

# Finds the unpacked source folder (cjson-<version>/ holding cJSON.c).
find_source_dir() {
    local d
    for d in "$DEST"/cjson-*/; do
        [ -f "$d/cJSON.c" ] && [ -f "$d/cJSON.h" ] && { echo "${d%/}"; return 0; }
    done
    return 1
}

# Checks the files named in the .dsc's Checksums-Sha256 field, and prints
# the orig tarball's sha256 (for the record, and to compare with upstream).
verify_dsc() {
    local dsc="$1" sum size name ok=1
    [ -f "$dsc" ] || die "no .dsc in $DEST; delete $DEST and run again"
    while read -r sum size name; do
        [ -n "$name" ] || continue
        [ -f "$DEST/$name" ] || die "$name (listed in $(basename "$dsc")) is missing; delete $DEST and run again"
        local actual
        actual="$(sha256sum "$DEST/$name" | cut -d' ' -f1)"
        if [ "$actual" != "$sum" ]; then
            say "checksum MISMATCH for $name: .dsc says $sum, file has $actual"
            ok=0
        fi
        case "$name" in
            *.orig.tar.*) say "orig tarball $name sha256 $actual" ;;
        esac
    done < <(awk '/^Checksums-Sha256:/{on=1; next} /^[^ ]/{on=0} on && NF==3 {print}' "$dsc")
    [ "$ok" = 1 ] || die "checksums of the cJSON source do not match its .dsc; delete $DEST and run again"
    say "checksums match $(basename "$dsc")"
}

if dir="$(find_source_dir)"; then
    say "reusing $dir"
    verify_dsc "$(ls "$DEST"/cjson_*.dsc 2>/dev/null | head -n1)"
    echo "$dir"
    exit 0
fi

command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian-based system"

# apt-get source unpacks with dpkg-source, which comes with dpkg-dev.
if ! command -v dpkg-source >/dev/null; then
    say "dpkg-source is missing; installing dpkg-dev"
    [ "$(id -u)" = 0 ] || die "dpkg-source is missing; run 'sudo apt-get install dpkg-dev' first"
    apt-get install -y --no-install-recommends dpkg-dev >&2 \
        || die "could not install dpkg-dev (try 'apt-get update' first)"
fi

SUITE="${NN_DEBIAN_SUITE:-}"
if [ -z "$SUITE" ] && [ -r /etc/os-release ]; then
    SUITE="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
fi
[ -n "$SUITE" ] || die "cannot tell the Debian release; set NN_DEBIAN_SUITE (e.g. bookworm)"
MIRROR="${NN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${MIRROR%/debian}/debian-security"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$KEYRING" ] || die "$KEYRING not found; install the debian-archive-keyring package"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/parts" "$TMP/lists/partial" "$TMP/cache/archives/partial"
{
    echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE main"
    echo "deb-src [signed-by=$KEYRING] $MIRROR $SUITE-updates main"
    echo "deb-src [signed-by=$KEYRING] $SECURITY $SUITE-security main"
} > "$TMP/sources.list"

APT_OPTS=(
    -o "Dir::Etc::SourceList=$TMP/sources.list"
    -o "Dir::Etc::SourceParts=$TMP/parts"
    -o "Dir::State::Lists=$TMP/lists"
    -o "Dir::Cache=$TMP/cache"
    # The downloads land in folders of the caller's; apt's _apt sandbox user
    # may not be able to write there, so download as the caller.
    -o "APT::Sandbox::User=$(id -un)"
)

say "reading Debian's source index for $SUITE (temporary lists in $TMP)"
apt-get "${APT_OPTS[@]}" update >&2 \
    || die "apt-get update failed for $MIRROR; is Debian's archive reachable?"

mkdir -p "$DEST"
say "downloading and unpacking the cjson source package into $DEST"
(cd "$DEST" && apt-get "${APT_OPTS[@]}" source cjson >&2) \
    || die "apt-get source cjson failed (see above); delete $DEST and run again"

dir="$(find_source_dir)" || die "cJSON.c not found under $DEST after apt-get source"
verify_dsc "$(ls "$DEST"/cjson_*.dsc | head -n1)"
echo "$dir"
