/* A test-harness shim for GNU inetutils ftpd (spec/support/servers.lua, kind
 * "inetutils"), preloaded into the real server binary with LD_PRELOAD.
 *
 * ftpd logs a user into the home folder of the account and refuses accounts whose
 * shell /etc/shells does not list; it has no option for either. The specs need every
 * server to start its user in a temporary root of their own, and the test account has
 * no login shell (/usr/sbin/nologin) on purpose. So, for the one account named by
 * FTPLIB_FTPD_USER, this answers the account lookup with the home FTPLIB_FTPD_HOME and
 * the shell /bin/sh. Everything else (other accounts, the password check through PAM
 * or shadow, the server itself) is the system's, untouched. A mount namespace would do
 * the same without a shim, but cannot be made inside a plain chroot (a fresh-machine
 * run), where "/" is not a mount point.
 *
 * Built by servers.lua at start:  cc -shared -fPIC -o ftpd_account.so ftpd_account.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

static char shell[] = "/bin/sh";

static struct passwd *redirect(struct passwd *pw)
{
    const char *user = getenv("FTPLIB_FTPD_USER");
    char *home = getenv("FTPLIB_FTPD_HOME");
    if (pw != NULL && user != NULL && home != NULL && strcmp(pw->pw_name, user) == 0) {
        pw->pw_dir = home;
        pw->pw_shell = shell;
    }
    return pw;
}

struct passwd *getpwnam(const char *name)
{
    struct passwd *(*real)(const char *) =
        (struct passwd * (*)(const char *)) dlsym(RTLD_NEXT, "getpwnam");
    return redirect(real(name));
}

struct passwd *getpwuid(uid_t uid)
{
    struct passwd *(*real)(uid_t) = (struct passwd * (*)(uid_t)) dlsym(RTLD_NEXT, "getpwuid");
    return redirect(real(uid));
}
