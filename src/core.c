/* The Lua module ftplib.core: class set-up, error conventions and the
 * functions that belong to no object (resolve, wait, poll, clock, text
 * parsers). */
#include "core.h"
#include "reply.h"
#include "status.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

int ftp_push_error(lua_State *L, const char *message, const char *code)
{
    lua_pushnil(L);
    lua_pushstring(L, message);
    lua_pushstring(L, code);
    return 3;
}

static const char *sys_code(int err)
{
    switch (err) {
    case ECONNREFUSED: case ENETUNREACH: case EHOSTUNREACH: case EADDRNOTAVAIL:
    case EADDRINUSE:
        return "refused";
    case ETIMEDOUT: return "timeout";
    default: return "closed";
    }
}

int ftp_push_status(lua_State *L, int status, int sys_err)
{
    char msg[256];
    switch (status) {
    case FTP_WANT_READ:
    case FTP_WANT_WRITE:
        lua_pushboolean(L, 0);
        lua_pushstring(L, status == FTP_WANT_READ ? "r" : "w");
        return 2;
    case FTP_CLOSED: return ftp_push_error(L, "connection closed by server", "closed");
    case FTP_EPROTO: return ftp_push_error(L, "malformed reply from server", "proto");
    case FTP_ELIMIT: return ftp_push_error(L, "reply over the size limit", "limit");
    case FTP_ENOMEM: return luaL_error(L, "not enough memory");
    case FTP_ESYS:
        /* The GNU strerror_r: thread-safe, returns the text to use. */
        return ftp_push_error(L, strerror_r(sys_err, msg, sizeof msg), sys_code(sys_err));
    case FTP_EIO:
        return ftp_push_error(L, strerror_r(sys_err, msg, sizeof msg), "io");
    default: return ftp_push_error(L, "unknown failure", "proto");
    }
}

int ftp_push_conn_status(lua_State *L, int status, const ftp_conn *c)
{
    if (status == FTP_ETLS)
        return ftp_push_error(L, c->tls_err, "tls");
    return ftp_push_status(L, status, c->err);
}

void ftp_check_addr(lua_State *L, int arg, ftp_addr *a)
{
    size_t len;
    const char *raw = luaL_checklstring(L, arg, &len);
    luaL_argcheck(L, len > 0 && len <= sizeof a->sa, arg, "not an address from core.resolve");
    memset(a, 0, sizeof *a);
    memcpy(&a->sa, raw, len);
    a->len = (socklen_t)len;
}

void ftp_push_addr(lua_State *L, const ftp_addr *a)
{
    lua_pushlstring(L, (const char *)&a->sa, a->len);
}

static int field_index(lua_State *L)
{
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
        return 1;
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE)
        return 0;
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int field_newindex(lua_State *L)
{
    if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE)
        return luaL_error(L, "object has no field table");
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

void ftp_new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                   const luaL_Reg *meta)
{
    lua_newtable(L); /* methods: returned to the module */
    luaL_setfuncs(L, methods, 0);
    luaL_newmetatable(L, name);
    luaL_setfuncs(L, meta, 0);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, field_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, field_newindex);
    lua_setfield(L, -2, "__newindex");
}

void *ftp_new_object(lua_State *L, size_t size, const char *name)
{
    void *p = lua_newuserdatauv(L, size, 1);
    memset(p, 0, size);
    luaL_setmetatable(L, name);
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    return p;
}

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

/* core.wait(fd, "r"|"w", timeout) -> true | nil, "timed out", "timeout" */
static int l_wait(lua_State *L)
{
    int fd = (int)luaL_checkinteger(L, 1);
    const char *what = luaL_checkstring(L, 2);
    double timeout = luaL_optnumber(L, 3, -1);
    int rc = ftp_net_wait(fd, what[0] == 'w', timeout);
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

static int l_now(lua_State *L)
{
    lua_pushnumber(L, ftp_net_now());
    return 1;
}

/* core.parse_pasv(text) -> "h1.h2.h3.h4", port | nil, msg, "proto" */
static int l_parse_pasv(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    unsigned char h[4];
    unsigned port;
    if (ftp_parse_pasv(text, len, h, &port) < 0)
        return ftp_push_error(L, "malformed PASV reply", "proto");
    lua_pushfstring(L, "%d.%d.%d.%d", h[0], h[1], h[2], h[3]);
    lua_pushinteger(L, port);
    return 2;
}

static int l_parse_epsv(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    unsigned port;
    if (ftp_parse_epsv(text, len, &port) < 0)
        return ftp_push_error(L, "malformed EPSV reply", "proto");
    lua_pushinteger(L, port);
    return 1;
}

static int l_parse_quoted(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    luaL_Buffer b;
    char *out = luaL_buffinitsize(L, &b, len + 1);
    long n = ftp_parse_quoted_path(text, len, out);
    if (n < 0)
        return ftp_push_error(L, "no quoted path in reply", "proto");
    luaL_pushresultsize(&b, (size_t)n);
    return 1;
}

static int l_parse_150(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    long long size;
    if (ftp_parse_150_size(text, len, &size) < 0)
        return 0;
    lua_pushinteger(L, (lua_Integer)size);
    return 1;
}

static const luaL_Reg functions[] = {
    {"resolve", l_resolve},       {"wait", l_wait},
    {"poll", l_poll},             {"now", l_now},
    {"parse_pasv", l_parse_pasv}, {"parse_epsv", l_parse_epsv},
    {"parse_quoted", l_parse_quoted}, {"parse_150", l_parse_150},
    {NULL, NULL}};

int luaopen_ftplib_core(lua_State *L)
{
    luaL_newlib(L, functions);
    ftp_open_ftp(L);
    ftp_open_data(L);
    ftp_open_tls(L);
    ftp_open_iconv(L);
    ftp_open_file(L);
    return 1;
}
