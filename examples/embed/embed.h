/* What a C host does to have ftplib in a Lua state of its own, shared by the
 * examples in this folder (host.c, threads.c). */
#ifndef FTPLIB_EMBED_H
#define FTPLIB_EMBED_H

#include <lua.h>

/* The checkout's lua/ folder, compiled in by the Makefile. */
#ifndef FTPLIB_LUA_DIR
#define FTPLIB_LUA_DIR "lua"
#endif

/* The module's entry point, from src/core.c (linked in, not loaded). */
int luaopen_ftplib_core(lua_State *L);

/* Registers the linked-in C core as "ftplib.core" in package.loaded and puts
 * the Lua half, in lua_dir (NULL: $FTPLIB_LUA_DIR, else FTPLIB_LUA_DIR), first
 * on package.path. Needs the package library opened (luaL_openlibs); may
 * raise. */
void ftplib_embed_open(lua_State *L, const char *lua_dir);

/* A message handler for lua_pcall: the error with a traceback. */
int ftplib_embed_traceback(lua_State *L);

#endif
