#!/bin/sh
# Prepares this machine for the specs that run real FTP servers (spec/support/servers.lua).
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
