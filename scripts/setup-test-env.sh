#!/bin/sh
# Prepares this machine for the specs that run real FTP servers (spec/support/servers.lua).
# Run by `make test` (and asan, valgrind, bench) through `scripts/setup.sh --test-env`;
# `make demo` does not need it (its pyftpdlib server takes any account it is given).
#
# vsftpd checks local-user passwords through PAM against system accounts, so the specs
# need one real account. To keep that as harmless as possible:
#   - the account `ftplibtest` is a system user with no login shell; its home is an empty
#     root-owned folder (vsftpd changes into the home before local_root, so it must exist;
#     every test server then sends the user to its own temporary root);
#   - it gets its own PAM service (/etc/pam.d/ftplibtest-vsftpd) that the test vsftpd
#     names with pam_service_name; that service admits `ftplibtest` and nobody else, so
#     the test servers can never log in another account of the machine;
#   - the system's own /etc/pam.d/vsftpd is left untouched.
# The password is fixed and public (it is in spec/support/servers.lua): the test servers
# listen on the loopback interface only.
#
# Idempotent and quick when everything is already in place. Needs root.
set -eu

TEST_USER=ftplibtest
TEST_PASSWD=ftplibtest-pw
TEST_HOME=/var/lib/ftplibtest
PAM_SERVICE=/etc/pam.d/ftplibtest-vsftpd

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-test-env.sh: needs root (creates the test account $TEST_USER)" >&2
    exit 1
fi

if ! getent passwd "$TEST_USER" >/dev/null; then
    useradd --system --no-create-home --home-dir "$TEST_HOME" \
        --shell /usr/sbin/nologin --user-group "$TEST_USER"
fi
if [ "$(getent passwd "$TEST_USER" | cut -d: -f6)" != "$TEST_HOME" ]; then
    usermod --home "$TEST_HOME" "$TEST_USER"
fi
if [ ! -d "$TEST_HOME" ]; then
    mkdir -p "$TEST_HOME"
    chmod 755 "$TEST_HOME"
fi

# Set the password only when it differs, so repeated runs do not rewrite /etc/shadow.
# The shadow hash embeds its salt: re-hash the known password with that salt to compare.
current_hash=$(getent shadow "$TEST_USER" | cut -d: -f2)
wanted_hash=""
case "$current_hash" in
    \$*\$*\$*)
        salt=$(printf '%s' "$current_hash" | sed 's/^\(\$[^$]*\$[^$]*\)\$.*/\1/')
        # openssl passwd cannot re-hash yescrypt ($y$): those fall through to a reset.
        case "$salt" in
            \$6\$*) wanted_hash=$(openssl passwd -6 -salt "${salt#\$6\$}" "$TEST_PASSWD") ;;
            \$5\$*) wanted_hash=$(openssl passwd -5 -salt "${salt#\$5\$}" "$TEST_PASSWD") ;;
        esac
        ;;
esac
if [ -z "$wanted_hash" ] || [ "$wanted_hash" != "$current_hash" ]; then
    # A SHA-512 hash so the comparison above works on the next run.
    usermod --password "$(openssl passwd -6 "$TEST_PASSWD")" "$TEST_USER"
fi

pam_text='# Used only by the ftplib test servers (spec/support/servers.lua): admits the
# test account ftplibtest and nobody else. Installed by scripts/setup-test-env.sh.
# nodelay: no 2-second pause after a wrong password, which specs provoke on purpose.
auth     required pam_succeed_if.so quiet user = ftplibtest
auth     required pam_unix.so nodelay
account  required pam_succeed_if.so quiet user = ftplibtest
account  required pam_unix.so
session  required pam_permit.so'
if [ ! -f "$PAM_SERVICE" ] || [ "$(cat "$PAM_SERVICE")" != "$pam_text" ]; then
    printf '%s\n' "$pam_text" > "$PAM_SERVICE"
    chmod 644 "$PAM_SERVICE"
fi

# vsftpd drops anonymous sessions into the `ftp` account, which its Debian package
# creates; a machine where vsftpd came without it would fail anonymous logins.
if ! getent passwd ftp >/dev/null; then
    useradd --system --no-create-home --home-dir /srv/ftp --shell /usr/sbin/nologin \
        --user-group ftp
fi

# proftpd for the specs (spec/support/servers.lua, kind "proftpd"). Debian's proftpd-core
# conflicts with vsftpd (both provide ftp-server), so it is not installed: its package,
# proftpd-mod-crypto (which holds mod_tls.so) and the libraries they need that are not
# installed are downloaded and unpacked into $PROFTPD_DIR. The test servers run that
# binary with LD_LIBRARY_PATH; nothing of it is on the system's paths, no service starts.
# Kept outside the checkout so new clones on this machine do not download it again.
# A failure here is a warning only: the specs then leave proftpd out.
PROFTPD_DIR=/var/cache/ftplib-test/proftpd
PROFTPD_STAMP=$PROFTPD_DIR/.unpacked

proftpd_warn() {
    echo "setup-test-env.sh: warning: $*; the proftpd test servers will be unavailable" >&2
}

# The packages to unpack: proftpd's two, pinned to one version, and each dependency that
# apt would newly install (upgrades are left out: the installed version serves).
proftpd_packages() {
    version=$(apt-cache policy proftpd-core | sed -n 's/^ *Candidate: //p')
    [ -n "$version" ] && [ "$version" != "(none)" ] || return 1
    dependencies=$(apt-get install --simulate --no-install-recommends \
            "proftpd-core=$version" "proftpd-mod-crypto=$version" 2>/dev/null |
        sed -n 's/^Inst \([^ ]*\) (.*/\1/p' | grep -v '^proftpd-' | tr '\n' ' ') || true
    echo "proftpd-core=$version proftpd-mod-crypto=$version $dependencies"
}

# Every library the binary and mod_tls need is found (on the system or unpacked).
proftpd_links() {
    libs=$(find "$1/usr/lib" -maxdepth 1 -type d -name '*-linux-*' | tr '\n' ':')
    ! LD_LIBRARY_PATH=$libs ldd "$1/usr/sbin/proftpd" "$1/usr/lib/proftpd/mod_tls.so" |
        grep 'not found'
}

# Downloads the packages ($2) into the folder $1 and unpacks them into $1/root.
fetch_proftpd() {
    # apt downloads as the unprivileged _apt user when it can write the folder.
    if getent passwd _apt >/dev/null; then chown _apt "$1"; fi
    # shellcheck disable=SC2086 # one word per package
    (cd "$1" && apt-get download -qq $2) || return 1
    for deb in "$1"/*.deb; do
        dpkg -x "$deb" "$1/root" || return 1
    done
    proftpd_links "$1/root" || return 1
    echo "$2" > "$1/root/.unpacked"
}

# Unpacks into a fresh folder beside $PROFTPD_DIR, then swaps it in: an interrupted run
# leaves no half-unpacked proftpd behind.
unpack_proftpd() {
    mkdir -p "$(dirname "$PROFTPD_DIR")" || return 1
    # No package lists (a fresh container): fetch them once.
    if ! apt-cache show proftpd-core >/dev/null 2>&1; then apt-get update -qq || return 1; fi
    packages=$(proftpd_packages) || return 1
    work=$(mktemp -d "$PROFTPD_DIR.new.XXXXXX") || return 1
    status=1
    if fetch_proftpd "$work" "$packages"; then
        rm -rf "$PROFTPD_DIR" && mv "$work/root" "$PROFTPD_DIR" && status=0
    fi
    rm -rf "$work"
    return $status
}

if [ ! -f "$PROFTPD_STAMP" ] || [ ! -x "$PROFTPD_DIR/usr/sbin/proftpd" ]; then
    echo "setup-test-env.sh: unpacking proftpd into $PROFTPD_DIR"
    unpack_proftpd || proftpd_warn "could not download or unpack proftpd"
fi

# GNU inetutils ftpd for the specs (spec/support/servers.lua, kind "inetutils"): a
# BSD-derived server the abort specs need. Its package conflicts with vsftpd's too
# (ftp-server), so it is unpacked like proftpd, with any library it needs that is not
# installed, into $INETUTILS_DIR; spec/support/inetd_server.py runs it. A failure here
# is a warning only: the specs then leave it out.
INETUTILS_DIR=/var/cache/ftplib-test/inetutils

# Downloads inetutils-ftpd and the libraries ($2) into $1 and unpacks them into $1/root.
fetch_inetutils() {
    if getent passwd _apt >/dev/null; then chown _apt "$1"; fi
    # shellcheck disable=SC2086 # one word per package
    (cd "$1" && apt-get download -qq $2) || return 1
    for deb in "$1"/*.deb; do
        dpkg -x "$deb" "$1/root" || return 1
    done
    libs=$(find "$1/root/usr/lib" -maxdepth 1 -type d -name '*-linux-*' 2>/dev/null | tr '\n' ':')
    ! LD_LIBRARY_PATH=$libs ldd "$1/root/usr/sbin/ftpd" | grep 'not found' || return 1
    echo "$2" > "$1/root/.unpacked"
}

unpack_inetutils() {
    mkdir -p "$(dirname "$INETUTILS_DIR")" || return 1
    if ! apt-cache show inetutils-ftpd >/dev/null 2>&1; then apt-get update -qq || return 1; fi
    version=$(apt-cache policy inetutils-ftpd | sed -n 's/^ *Candidate: //p')
    [ -n "$version" ] && [ "$version" != "(none)" ] || return 1
    # Its own libraries only (libwrap0...): not the syslog daemon or netbase it wants.
    libs=$(apt-get install --simulate --no-install-recommends "inetutils-ftpd=$version" \
            2>/dev/null | sed -n 's/^Inst \(lib[^ ]*\) (.*/\1/p' | tr '\n' ' ') || true
    work=$(mktemp -d "$INETUTILS_DIR.new.XXXXXX") || return 1
    status=1
    if fetch_inetutils "$work" "inetutils-ftpd=$version $libs"; then
        rm -rf "$INETUTILS_DIR" && mv "$work/root" "$INETUTILS_DIR" && status=0
    fi
    rm -rf "$work"
    return $status
}

if [ ! -f "$INETUTILS_DIR/.unpacked" ] || [ ! -x "$INETUTILS_DIR/usr/sbin/ftpd" ]; then
    echo "setup-test-env.sh: unpacking inetutils ftpd into $INETUTILS_DIR"
    unpack_inetutils ||
        echo "setup-test-env.sh: warning: could not unpack inetutils ftpd; its specs are left out" >&2
fi
