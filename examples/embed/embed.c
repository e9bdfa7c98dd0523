/* See embed.h. */
#include "embed.h"

#include <stdlib.h>

#include <lauxlib.h>

void ftplib_embed_open(lua_State *L, const char *lua_dir)
{
    if (lua_dir == NULL)
        lua_dir = getenv("FTPLIB_LUA_DIR");
    if (lua_dir == NULL || *lua_dir == '\0')
        lua_dir = FTPLIB_LUA_DIR;
    luaL_requiref(L, "ftplib.core", luaopen_ftplib_core, 0);
    lua_pop(L, 1);
    /* Ours first; the default path after it finds the Lua modules ftplib
     * requires from the system. package.cpath is left alone: ftplib uses C
     * modules of the system too (lfs), and ftplib.core, already in
     * package.loaded, is never looked for there. */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "path");
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", lua_dir, lua_dir, lua_tostring(L, -1));
    lua_setfield(L, -3, "path");
    lua_pop(L, 2);
}

int ftplib_embed_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL)
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}
