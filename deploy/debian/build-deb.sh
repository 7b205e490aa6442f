#!/usr/bin/env bash
# `make dist`: the wheel, then a .deb that installs it under /opt/safetymonth with its own
# Python environment. Usage: build-deb.sh DIST_DIR RUNTIME_PACKAGE...
#
# The .deb carries the project's wheel and the wheels of every dependency, built here for
# this machine's architecture and Debian's own python3 (whose version the .deb then depends
# on); its postinst makes the environment from them with `pip install --no-index`, so
# installing needs no network. The network (PyPI) is needed only here, for wheels that are
# not in the wheelhouse cache yet (build/wheelhouse, kept between builds).
set -euo pipefail
dist=$(realpath -m "$1"); shift
runtime_packages=("$@")
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build="$top/build/dist"
wheelhouse="$top/build/wheelhouse"
python=/usr/bin/python3   # Debian's: the interpreter the installed environment will run on

version=$("$python" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$top/pyproject.toml")
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
pynext=$("$python" -c 'import sys; print("%d.%d" % (sys.version_info[0], sys.version_info[1] + 1))')
arch=$(dpkg --print-architecture)

rm -rf "$build"
mkdir -p "$dist" "$build" "$wheelhouse"

# A build environment on Debian's python3, so the wheels match the target's interpreter.
"$python" -m venv "$build/venv"
pip=("$build/venv/bin/python" -m pip --disable-pip-version-check --no-input)

# 0. What building our wheel needs (pyproject's build-system), kept in the wheelhouse too, so
#    that a build with PIP_NO_INDEX=1 (the tests: no network) finds it there.
PIP_FIND_LINKS= "${pip[@]}" download --quiet --find-links "$wheelhouse" --dest "$wheelhouse" \
    "setuptools>=77" wheel

# 1. The project's wheel (templates, static files, migrations, examples: pyproject's
#    package-data). setuptools builds in place: stale build/lib files must not slip in.
rm -rf "$top/build/lib" "$top/build/bdist".*
PIP_FIND_LINKS= "${pip[@]}" wheel --quiet --no-deps --find-links "$wheelhouse" \
    --wheel-dir "$dist" "$top"
wheel="$dist/safetymonth-$version-py3-none-any.whl"
test -f "$wheel"

# 2. Every dependency's wheel, from the cache if it has them
#    all, else from the index.
requirement="safetymonth @ file://$wheel"
wheels="$build/wheels"
if ! PIP_FIND_LINKS= "${pip[@]}" wheel --quiet --no-index --find-links "$wheelhouse" \
        --wheel-dir "$wheels" "$requirement" 2>/dev/null; then
    PIP_FIND_LINKS= "${pip[@]}" wheel --quiet --find-links "$wheelhouse" \
        --wheel-dir "$wheels" "$requirement"
fi
cp -n "$wheels"/*.whl "$wheelhouse"/ 2>/dev/null || true
rm -f "$wheelhouse"/safetymonth-*.whl   # our own wheel always comes from step 1
# The installed environment's own pip comes from python3-venv; no wheel of pip is needed.

# 3. The staging root.
root="$build/root"
install -d "$root/DEBIAN" "$root/opt/safetymonth/wheels" "$root/etc/safetymonth" \
    "$root/lib/systemd/system" "$root/usr/bin" "$root/usr/share/doc/safetymonth"
cp "$wheels"/*.whl "$root/opt/safetymonth/wheels/"
cp "$wheel" "$root/opt/safetymonth/wheels/"
install -m 0755 "$here/safetymonth.sh" "$root/usr/bin/safetymonth"
install -m 0644 "$top"/deploy/safetymonth-*.service "$top"/deploy/safetymonth-*.timer \
    "$root/lib/systemd/system/"
install -m 0644 "$top/README.md" "$root/usr/share/doc/safetymonth/README.md"
"$here/config.sh" "$top/config.yaml" > "$root/etc/safetymonth/config.yaml"
chmod 0640 "$root/etc/safetymonth/config.yaml"   # the group becomes safetymonth in postinst
install -m 0600 "$here/secrets.env" "$root/etc/safetymonth/secrets.env"
printf '%s\n' /etc/safetymonth/config.yaml /etc/safetymonth/secrets.env > "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    sed "s/@VERSION@/$version/g" "$here/$script" > "$root/DEBIAN/$script"
    chmod 0755 "$root/DEBIAN/$script"
done

depends="python3 (>= $pyver), python3 (<< $pynext), python3-venv, passwd"
for package in "${runtime_packages[@]}"; do
    case "$package" in   # a derivative (UOS, Kylin) may only have the full writer
        libreoffice-writer-nogui) depends+=", libreoffice-writer-nogui | libreoffice-writer" ;;
        *) depends+=", $package" ;;
    esac
done
cat > "$root/DEBIAN/control" <<CONTROL
Package: safetymonth
Version: $version
Architecture: $arch
Maintainer: safetymonth <safetymonth@localhost>
Section: misc
Priority: optional
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Suggests: postgresql-client, nginx
Description: civil-affairs safety management month: mail intake, checks, replies, documents
 Polls the activity mailbox, checks every photo, video and summary against the
 campaign's rules, replies to each unit, and writes GB/T 9704 documents; with a
 web console for the coordinators. Units for poll, serve and the remind timer
 are installed but not enabled.
CONTROL

deb="$dist/safetymonth_${version}_${arch}.deb"
# The wheels are zip files already: xz would take a minute to save nothing.
dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$deb" >/dev/null
echo "$wheel"
echo "$deb"
