/* The functions of ftplib.core that belong to no object: name resolution,
 * waiting on descriptors (one or many, for the scheduler) and the clock. */
#include "bind.h"
#include "busy_wait.h"
#include "core.h"
#include "status.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

/* core.resolve(host, port [, family]) -> { {sa=, host=, family=}, ... } */
static int l_resolve(lua_State *L)
{
    const char *host = luaL_optstring(L, 1, NULL);
    const char *port = luaL_checkstring(L, 2);
    const char *family = luaL_optstring(L, 3, "any");
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    hints.ai_family = strcmp(family, "inet") == 0 ? AF_INET
                    : strcmp(family, "inet6") == 0 ? AF_INET6 : AF_UNSPEC;
    if (host == NULL)
        hints.ai_flags = AI_PASSIVE;
    struct addrinfo *list;
    int rc = getaddrinfo(host, port, &hints, &list);
    if (rc != 0)
        return ftp_push_error(L, gai_strerror(rc), "refused");
    lua_newtable(L);
    int n = 0;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        ftp_addr a = {.len = ai->ai_addrlen};
        memcpy(&a.sa, ai->ai_addr, ai->ai_addrlen);
        char text[64];
        int p;
        ftp_net_addr_text(&a, text, sizeof text, &p);
        lua_createtable(L, 0, 3);
        ftp_push_addr(L, &a);
        lua_setfield(L, -2, "sa");
        lua_pushstring(L, text);
        lua_setfield(L, -2, "host");
        lua_pushstring(L, ai->ai_family == AF_INET6 ? "inet6" : "inet");
        lua_setfield(L, -2, "family");
        lua_rawseti(L, -2, ++n);
    }
    freeaddrinfo(list);
    return 1;
}

/* core.wait(fd, "r"|"w", timeout[, calm]) -> true | nil, "timed out",
 * "timeout". calm: no busy-wait before the sleep. */
static int l_wait(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    const char *what = luaL_checkstring(L, 2);
    double timeout = luaL_optnumber(L, 3, -1);
    int rc = ftp_net_wait(fd, what[0] == 'w', timeout, lua_toboolean(L, 4));
    /* A signal: an early wake-up, which every caller's step survives. Back in
     * Lua, the interpreter's hook for it (Ctrl-C) runs. */
    if (rc > 0 || (rc < 0 && errno == EINTR)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (rc == 0)
        return ftp_push_error(L, "timed out", "timeout");
    return ftp_push_status(L, FTP_ESYS, errno);
}

/* core.set_busy_wait(seconds) -> the busy-wait before (busy_wait.h) */
static int l_set_busy_wait(lua_State *L)
{
    double seconds = luaL_checknumber(L, 1);
    luaL_argcheck(L, seconds >= 0 && seconds <= FTP_BUSY_WAIT_MAX, 1,
                  "busy-wait out of range");
    lua_pushnumber(L, ftp_busy_wait_set(seconds));
    return 1;
}

/* Reads fds[i] and dirs[i] ("r" or "w") into p. */
static void check_entries(lua_State *L, struct pollfd *p, lua_Integer n)
{
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        lua_geti(L, 2, i);
        int isnum;
        lua_Integer fd = lua_tointegerx(L, -2, &isnum);
        const char *dir = lua_tostring(L, -1);
        if (!isnum || fd < 0 || fd > 0x7fffffff)
            luaL_error(L, "bad descriptor at index %d", (int)i);
        if (dir == NULL || (dir[0] != 'r' && dir[0] != 'w') || dir[1] != '\0')
            luaL_error(L, "bad direction at index %d (\"r\" or \"w\" expected)", (int)i);
        p[i - 1].fd = (int)fd;
        p[i - 1].events = dir[0] == 'w' ? POLLOUT : POLLIN;
        p[i - 1].revents = 0;
        lua_pop(L, 2);
    }
}

/* core.poll(fds, dirs, timeout) -> { i, ... } the indexes of the entries
 * that are ready (an error or hang-up counts: the next step shows it),
 * {} when the timeout passed | nil, msg, code. With no entries it sleeps.
 * One poll() over many descriptors, for the coroutine scheduler
 * (lua/ftplib/sched.lua), which runs many sessions in one thread. */
static int l_poll(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    double timeout = luaL_optnumber(L, 3, -1);
    lua_Integer n = luaL_len(L, 1);
    luaL_argcheck(L, luaL_len(L, 2) == n, 2, "as many directions as descriptors expected");
    luaL_argcheck(L, n >= 0 && n <= 65536, 1, "too many descriptors");
    /* A userdata, not malloc: freed by the collector even if a check raises. */
    struct pollfd *p = lua_newuserdatauv(L, sizeof *p * (size_t)(n > 0 ? n : 1), 0);
    check_entries(L, p, n);
    int rc = ftp_net_poll(p, (nfds_t)n, timeout);
    if (rc < 0 && errno == EINTR)
        rc = 0; /* a signal: nothing ready yet (see l_wait) */
    if (rc < 0)
        return ftp_push_status(L, FTP_ESYS, errno);
    lua_createtable(L, rc, 0);
    int k = 0;
    for (lua_Integer i = 0; i < n && k < rc; i++) {
        if (p[i].revents != 0) {
            lua_pushinteger(L, i + 1);
            lua_rawseti(L, -2, ++k);
        }
    }
    return 1;
}

/* The most one raw_recv reads: a proxy's replies are small. */
#define RAW_RECV_MAX 65536

static int check_fd(lua_State *L, int arg)
{
    lua_Integer fd = luaL_checkinteger(L, arg);
    luaL_argcheck(L, fd >= 0 && fd <= 0x7fffffff, arg, "bad descriptor");
    return (int)fd;
}

/* A would-block, an interrupted call: wait for dir, then try again. */
static int push_raw_failure(lua_State *L, const char *dir)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, dir);
        return 2;
    }
    return ftp_push_status(L, FTP_ESYS, errno);
}

/* core.raw_send(fd, s [, i]) -> bytes sent of s[i..] | false, "w" | nil, msg, code.
 * Plain bytes on a connected socket before it carries FTP or TLS: a proxy's
 * handshake (lua/ftplib/protocol/proxy.lua). */
static int l_raw_send(lua_State *L)
{
    int fd = check_fd(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, i >= 1 && (size_t)i <= len + 1, 3, "index out of range");
    ssize_t n = send(fd, s + i - 1, len - (size_t)(i - 1), MSG_NOSIGNAL);
    if (n < 0)
        return push_raw_failure(L, "w");
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* core.raw_recv(fd, n [, peek]) -> up to n bytes | "" at the end | false, "r"
 * | nil, msg, code. Never more than asked for, so that the bytes after a
 * proxy's reply (the FTP greeting, a TLS record) stay in the socket for the
 * session; with peek they stay there too. */
static int l_raw_recv(lua_State *L)
{
    int fd = check_fd(L, 1);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0 && n <= RAW_RECV_MAX, 2, "size out of range");
    int flags = lua_toboolean(L, 3) ? MSG_PEEK : 0;
    luaL_Buffer b;
    char *room = luaL_buffinitsize(L, &b, (size_t)n);
    ssize_t got = recv(fd, room, (size_t)n, flags);
    if (got < 0)
        return push_raw_failure(L, "r");
    luaL_pushresultsize(&b, (size_t)got);
    return 1;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, ftp_net_now());
    return 1;
}

static const luaL_Reg functions[] = {
    {"resolve", l_resolve}, {"wait", l_wait},
    {"poll", l_poll},       {"now", l_now},
    {"set_busy_wait", l_set_busy_wait},
    {"raw_send", l_raw_send}, {"raw_recv", l_raw_recv},
    {NULL, NULL}};

void ftp_open_net(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
}
