#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those that are missing.
# With --test-env (make test, asan, valgrind, bench) it then prepares what the specs'
# real servers need (scripts/setup-test-env.sh: a test account, its PAM service, proftpd
# unpacked under /var/cache/ftplib-test), which needs root. Without it (make demo, make
# fuzz) nothing but packages is touched, so an ordinary user can run it once they are in.
# Fast path: when everything is installed this does one dpkg-query and no apt call.
#
#   bash scripts/setup.sh [--test-env]
set -euo pipefail

test_env=0
case ${1:-} in
    --test-env) test_env=1 ;;
    "") ;;
    *) echo "usage: bash scripts/setup.sh [--test-env]" >&2; exit 2 ;;
esac

# The one list of Debian packages the project needs. Add new ones here.
PACKAGES=(
    # build
    gcc make pkg-config
    lua5.4 liblua5.4-dev
    libssl-dev openssl
    zlib1g-dev
    # test and lint tools
    lua-busted lua-check luarocks
    lua-filesystem lua-socket
    # LuaSec: the scripted fake server's TLS (spec/support/fakeftp.lua requires "ssl")
    lua-sec
    # a host event loop driving sessions: spec/concurrency/hostloop_spec.lua,
    # examples/luv_parallel.lua
    lua-luv
    # the cqueues host loop adapter: spec/concurrency/cqueues_spec.lua
    lua-cqueues
    # FTP servers the specs run against
    vsftpd python3-pyftpdlib python3-openssl
    # odd servers for the transfer, abort and mirror specs (inetutils ftpd is unpacked
    # by scripts/setup-test-env.sh: it conflicts with vsftpd)
    python3-twisted python3-aioftp
    # proxies the specs connect through (spec/protocol/proxy_spec.lua): SOCKS5, HTTP CONNECT
    microsocks tinyproxy
    # make bench: the clients compared, the timer and the chart (curl also proves
    # the FTPS test servers: spec/harness/tls_harness_spec.lua)
    curl python3 time gnuplot-nox
    # make bench's latency workload: lftp's parallel mirror is the bar
    lftp
    # spec/cli/cli_spec.lua runs the command-line tool in a terminal to see its progress bar
    tmux
    # make fuzz (clang's libFuzzer runtime), make valgrind; make asan uses gcc's
    # libasan8 and libubsan1, which gcc already depends on
    clang libclang-rt-dev valgrind
    # make doc and spec/package/reference_spec.lua: LDoc, and the Markdown it formats comments with
    lua-ldoc lua-markdown
)

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# One dpkg-query for all packages; unknown packages print nothing on stdout.
declare -A ok=()
while read -r name status; do
    # Second letter of the abbreviated status is the current state: i = installed.
    if [[ ${status:1:1} == i ]]; then ok[$name]=1; fi
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for pkg in "${PACKAGES[@]}"; do
    [[ -n ${ok[$pkg]:-} ]] || missing+=("$pkg")
done

if ((${#missing[@]})); then
    echo "setup: installing missing packages: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            SUDO=(sudo -n)
        else
            echo "setup: error: not root and these packages are missing: ${missing[*]}" >&2
            echo "setup: run as root: apt-get install ${missing[*]}" >&2
            exit 1
        fi
    else
        SUDO=()
    fi
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ((test_env)) && [[ -f scripts/setup-test-env.sh ]]; then
    bash scripts/setup-test-env.sh
fi
