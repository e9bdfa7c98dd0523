/* Stub: replaced by the real binding. */
#include <lua.h>
#include <lauxlib.h>
int luaopen_ftplib_core(lua_State *L) { lua_newtable(L); return 1; }
