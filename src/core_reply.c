/* The reply-text parsers of reply.c as functions of ftplib.core, for the
 * Lua side's PASV, EPSV, 257 and 150 handling. */
#include "bind.h"
#include "core.h"
#include "reply.h"

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
    {"parse_pasv", l_parse_pasv},     {"parse_epsv", l_parse_epsv},
    {"parse_quoted", l_parse_quoted}, {"parse_150", l_parse_150},
    {NULL, NULL}};

void ftp_open_reply(lua_State *L)
{
    luaL_setfuncs(L, functions, 0);
}
