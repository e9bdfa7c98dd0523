/* A small C program that embeds Lua 5.4 with ftplib linked in, then runs a
 * Lua script:
 *
 *   host SCRIPT [ARGS...]        (`make embed` builds build/embed/host)
 *
 * The C core (every file in src/) is compiled into this program: the host
 * registers it as the module "ftplib.core" itself (luaL_requiref puts it in
 * package.loaded), so no core.so is looked for.
 * The Lua half (lua/ftplib.lua and the files in lua/ftplib/) is read from
 * files: from $FTPLIB_LUA_DIR when set, else from the folder compiled in at
 * build time (FTPLIB_LUA_DIR, the checkout's lua/). Reading them at run time
 * keeps the program in step with the checkout without a rebuild; a host that
 * ships alone would embed them as strings and load them through
 * package.preload. embed.c holds the part any host would copy.
 *
 * As with the `lua` program, the script sees its arguments in the global
 * `arg` (arg[0] is the script) and as `...`. The exit status is 0 when the
 * script returns (or calls os.exit), 1 when it raises: the error and a
 * traceback go to stderr. */
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "embed.h"

/* Global `arg` as the `lua` program makes it, and the arguments on the stack. */
static int push_args(lua_State *L, int argc, char **argv)
{
    lua_createtable(L, argc - 2, 1);
    for (int i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1);
    }
    lua_setglobal(L, "arg");
    luaL_checkstack(L, argc, "too many arguments");
    for (int i = 2; i < argc; i++)
        lua_pushstring(L, argv[i]);
    return argc - 2;
}

/* Protected part of main: everything that may raise runs in here. */
static int run_script(lua_State *L)
{
    int argc = (int)lua_tointeger(L, 1);
    char **argv = lua_touserdata(L, 2);
    luaL_openlibs(L);
    ftplib_embed_open(L, NULL);
    lua_pushcfunction(L, ftplib_embed_traceback);
    int msgh = lua_gettop(L);
    if (luaL_loadfile(L, argv[1]) != LUA_OK)
        return lua_error(L);
    int nargs = push_args(L, argc, argv);
    if (lua_pcall(L, nargs, 0, msgh) != LUA_OK)
        return lua_error(L);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCRIPT [ARGS...]\n", argv[0]);
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (L == NULL) {
        fprintf(stderr, "%s: cannot create a Lua state\n", argv[0]);
        return 1;
    }
    lua_pushcfunction(L, run_script);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, argv);
    int status = lua_pcall(L, 2, 0, 0);
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        fprintf(stderr, "%s: %s\n", argv[0], msg ? msg : "(error without a message)");
    }
    /* Closing the state runs __gc/__close: sessions still open are closed. */
    lua_close(L);
    return status == LUA_OK ? 0 : 1;
}
