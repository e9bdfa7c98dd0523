/* Digests of local files, read in slices so that a scheduler can run other
 * sessions in between (the file is streamed, never read whole):
 *
 *   core.file_digest(path, algo)      --> hex, or nil, message, code, errno
 *   core.file_digester(path, algo)    --> digester, or nil, message, code, errno
 *   digester:step(max_bytes)          --> false: more to read; hex: the end;
 *                                         nil, message, "io", errno
 *   digester:close()                  -- also __gc and __close; idempotent
 *
 * algo: "sha512", "sha256", "sha1", "md5" or "crc32" (another name raises: the
 * library picks it); hex is lower case. code is "io" for a file that cannot be
 * opened or read (or is not a regular file: EINVAL, EISDIR), "unsupported" for
 * an algorithm this OpenSSL does not give (MD5 in a FIPS build). */
#include "bind.h"
#include "core.h"
#include "digest.h"

#include <lauxlib.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIGESTER "ftplib.Digester"
#define READ_BLOCK (64 * 1024)

struct digester {
    struct ftp_digest digest;
    int fd;          /* -1 once closed */
    int started;     /* digest holds an OpenSSL state to free */
};

static void close_digester(struct digester *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
    if (d->started)
        ftp_digest_free(&d->digest);
    d->started = 0;
}

/* A regular file, opened without blocking on a FIFO, then set blocking:
 * the descriptor or -1 with errno set. */
static int open_regular(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        err = errno;
    if (err != 0) {
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Pushes a new digester for path (its user value: the path, for messages), or
 * the failure. */
static int new_digester(lua_State *L)
{
    size_t len;
    const char *path = luaL_checklstring(L, 1, &len);
    int algo = luaL_checkoption(L, 2, NULL, ftp_digest_names);
    struct digester *d = lua_newuserdatauv(L, sizeof *d, 1);
    d->fd = -1;
    d->started = 0;
    luaL_setmetatable(L, DIGESTER);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    if (strlen(path) != len)
        return ftp_push_file_error(L, "path with a NUL byte", EINVAL);
    if (ftp_digest_init(&d->digest, (enum ftp_digest_algo)algo) != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: not available in this OpenSSL", ftp_digest_names[algo]);
        lua_pushliteral(L, "unsupported");
        return 3;
    }
    d->started = 1;
    d->fd = open_regular(path);
    if (d->fd < 0) {
        int err = errno;
        close_digester(d);
        return ftp_push_file_error(L, path, err);
    }
    return 1;
}

static struct digester *check_digester(lua_State *L)
{
    return luaL_checkudata(L, 1, DIGESTER);
}

/* Reads up to max bytes into the digest: 1 at the end of the file, 0 when
 * more is left, -1 with errno set. */
static int read_some(struct digester *d, lua_Integer max)
{
    char block[READ_BLOCK];
    lua_Integer done = 0;
    while (done < max) {
        size_t want = max - done < READ_BLOCK ? (size_t)(max - done) : READ_BLOCK;
        ssize_t got = read(d->fd, block, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            return 1;
        if (ftp_digest_update(&d->digest, block, (size_t)got) != 0) {
            errno = ENOMEM;
            return -1;
        }
        done += got;
    }
    return 0;
}

static int l_step(lua_State *L)
{
    struct digester *d = check_digester(L);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, max > 0, 2, "must be positive");
    luaL_argcheck(L, d->fd >= 0, 1, "digester closed");
    lua_getiuservalue(L, 1, 1);
    const char *path = lua_tostring(L, -1);
    int state = read_some(d, max);
    if (state < 0) {
        int err = errno;
        close_digester(d);
        return ftp_push_file_error(L, path, err);
    }
    if (state == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    char hex[FTP_DIGEST_HEX_MAX];
    size_t len = ftp_digest_final(&d->digest, hex);
    close_digester(d);
    if (len == 0)
        return ftp_push_file_error(L, path, ENOMEM); /* OpenSSL fails only for want of it */
    lua_pushlstring(L, hex, len);
    return 1;
}

static int l_close(lua_State *L)
{
    close_digester(check_digester(L));
    return 0;
}

static int l_file_digester(lua_State *L)
{
    return new_digester(L);
}

/* The whole file at once: the same steps without a yield between them. */
static int l_file_digest(lua_State *L)
{
    int n = new_digester(L);
    if (n != 1)
        return n;
    struct digester *d = lua_touserdata(L, -1);
    lua_replace(L, 1); /* step's argument 1: the digester */
    lua_settop(L, 1);
    while (d->fd >= 0) {
        lua_settop(L, 1);
        lua_pushinteger(L, LUA_MAXINTEGER);
        n = l_step(L);
        if (!(n == 1 && lua_isboolean(L, -1)))
            return n;
    }
    return n;
}

void ftp_open_digest(lua_State *L)
{
    static const luaL_Reg methods[] = {{"step", l_step}, {"close", l_close}, {NULL, NULL}};
    luaL_newmetatable(L, DIGESTER);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__close");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_file_digest);
    lua_setfield(L, -2, "file_digest");
    lua_pushcfunction(L, l_file_digester);
    lua_setfield(L, -2, "file_digester");
}
