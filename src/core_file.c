/* Local files the helpers create from what a server listed, opened so that a
 * planted link or special file cannot redirect them (io.open cannot do this):
 *
 *   core.open_file(path, "new")       -- create exclusively: O_CREAT|O_EXCL, no link
 *   core.open_file(path, "existing")  -- an existing regular file with one name, no link
 *       --> a Lua file (io.type "file"), or nil, message, "io", errno
 *   core.file_origin(path)            --> the text recorded on the file, nil when none
 *                                         (nil, message, "io", errno when it cannot be read)
 *   core.file_origin(path, text)      --> true | nil, message, "io", errno
 *   core.file_origin(path, false)     --> removes it: true | nil, message, "io", errno
 *   core.errno                        --> { EEXIST = n, ELOOP = n, ENOENT = n, ... }
 *   core.sha256(bytes)                --> the SHA-256 of bytes, 64 hex digits
 *
 * "new" never follows a link and never opens a file that exists: a link or file
 * planted under the name fails with EEXIST and is left as it was. "existing" opens
 * for reading and writing without following a link (ELOOP), without blocking on a
 * FIFO, and only a regular file whose link count is 1 (a hard link to a file
 * elsewhere would be written through). The origin is an extended attribute
 * (user.ftplib.origin), read and written without following links; on a file system
 * without extended attributes it reads as nil and writing fails with ENOTSUP.
 *
 * Paths and origin texts are made from what a server listed: a path with a NUL
 * or a text over ORIGIN_MAX is a failure returned (EINVAL, E2BIG), never raised. */
#include "bind.h"
#include "core.h"

#include <lauxlib.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <openssl/evp.h>

#define ORIGIN_ATTR "user.ftplib.origin"
#define ORIGIN_MAX 4096

/* A path as a C string, or NULL when it holds a NUL (it would name another
 * file): the caller answers EINVAL. */
static const char *check_path(lua_State *L, int arg)
{
    size_t len;
    const char *path = luaL_checklstring(L, arg, &len);
    return strlen(path) == len ? path : NULL;
}

static int bad_path(lua_State *L)
{
    return ftp_push_file_error(L, "path with a NUL byte", EINVAL);
}

static int close_file(lua_State *L)
{
    luaL_Stream *stream = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int ok = fclose(stream->f) == 0;
    return luaL_fileresult(L, ok, NULL);
}

/* The checks of "existing" on the open descriptor: what was opened, not what
 * the name pointed to a moment before. Returns 0 or an errno. */
static int check_existing(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    if (st.st_nlink != 1)
        return EMLINK;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
        return errno;
    return 0;
}

static int l_open_file(lua_State *L)
{
    static const char *const hows[] = {"new", "existing", NULL};
    const char *path = check_path(L, 1);
    int existing = luaL_checkoption(L, 2, NULL, hows) == 1;
    if (path == NULL)
        return bad_path(L);
    /* The userdata first: a memory error cannot leak the descriptor. */
    luaL_Stream *stream = lua_newuserdatauv(L, sizeof *stream, 0);
    stream->f = NULL;
    stream->closef = NULL;
    luaL_setmetatable(L, LUA_FILEHANDLE);
    int flags = O_NOFOLLOW | O_CLOEXEC;
    flags |= existing ? (O_RDWR | O_NONBLOCK) : (O_WRONLY | O_CREAT | O_EXCL);
    int fd = open(path, flags, 0666);
    if (fd < 0)
        return ftp_push_file_error(L, path, errno);
    int err = existing ? check_existing(fd) : 0;
    if (err == 0) {
        stream->f = fdopen(fd, existing ? "r+b" : "wb");
        if (stream->f == NULL)
            err = errno;
    }
    if (err != 0) {
        close(fd);
        return ftp_push_file_error(L, path, err);
    }
    stream->closef = close_file;
    return 1;
}

static int l_file_origin(lua_State *L)
{
    const char *path = check_path(L, 1);
    if (path == NULL)
        return lua_isnoneornil(L, 2) ? 0 : bad_path(L);
    if (lua_isnoneornil(L, 2)) {
        char text[ORIGIN_MAX];
        ssize_t n = lgetxattr(path, ORIGIN_ATTR, text, sizeof text);
        if (n < 0 && (errno == ENODATA || errno == ENOENT))
            return 0; /* no record (or no file): nil */
        if (n < 0)
            return ftp_push_file_error(L, path, errno); /* ENOTSUP: no xattrs here, ERANGE, ... */
        lua_pushlstring(L, text, (size_t)n);
        return 1;
    }
    int ok;
    if (lua_isboolean(L, 2)) {
        luaL_argcheck(L, !lua_toboolean(L, 2), 2, "string or false expected");
        ok = lremovexattr(path, ORIGIN_ATTR) == 0 || errno == ENODATA;
    } else {
        size_t len;
        const char *text = luaL_checklstring(L, 2, &len);
        if (len > ORIGIN_MAX) {
            lua_pushnil(L);
            lua_pushfstring(L, "%s: origin record over %d bytes", path, ORIGIN_MAX);
            lua_pushliteral(L, "io");
            lua_pushinteger(L, E2BIG);
            return 4;
        }
        ok = lsetxattr(path, ORIGIN_ATTR, text, len, 0) == 0;
    }
    if (!ok)
        return ftp_push_file_error(L, path, errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sha256(lua_State *L)
{
    size_t len;
    const char *bytes = luaL_checklstring(L, 1, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(bytes, len, md, &md_len, EVP_sha256(), NULL) != 1)
        return luaL_error(L, "not enough memory"); /* EVP fails only for want of it */
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned int i = 0; i < md_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    lua_pushlstring(L, hex, 2 * (size_t)md_len);
    return 1;
}

void ftp_open_file(lua_State *L)
{
    static const struct {
        const char *name;
        int value;
    } codes[] = {{"EEXIST", EEXIST}, {"ELOOP", ELOOP},   {"ENOENT", ENOENT},
                 {"EISDIR", EISDIR}, {"EMLINK", EMLINK}, {"EINVAL", EINVAL},
                 {"ENOTSUP", ENOTSUP}, {"ENAMETOOLONG", ENAMETOOLONG}};
    lua_pushcfunction(L, l_open_file);
    lua_setfield(L, -2, "open_file");
    lua_pushcfunction(L, l_file_origin);
    lua_setfield(L, -2, "file_origin");
    lua_pushcfunction(L, l_sha256);
    lua_setfield(L, -2, "sha256");
    lua_createtable(L, 0, (int)(sizeof codes / sizeof codes[0]));
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        lua_pushinteger(L, codes[i].value);
        lua_setfield(L, -2, codes[i].name);
    }
    lua_setfield(L, -2, "errno");
}
