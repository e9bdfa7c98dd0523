/* The helpers shared by the binding files (bind.h). */
#include "bind.h"
#include "status.h"

#include <errno.h>
#include <string.h>

int ftp_push_error(lua_State *L, const char *message, const char *code)
{
    lua_pushnil(L);
    lua_pushstring(L, message);
    lua_pushstring(L, code);
    return 3;
}

int ftp_push_file_error(lua_State *L, const char *path, int err)
{
    char msg[256];
    lua_pushnil(L);
    /* The GNU strerror_r: thread-safe, returns the text to use. */
    lua_pushfstring(L, "%s: %s", path, strerror_r(err, msg, sizeof msg));
    lua_pushliteral(L, "io");
    lua_pushinteger(L, err);
    return 4;
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

struct ftp_session *ftp_check_session(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, FTP_MT);
}

struct ftp_data *ftp_check_data(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, DATA_MT);
}
