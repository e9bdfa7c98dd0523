/* The Lua module ftplib.core: its entry point, which only registers what
 * each binding file (core_*.c) adds. The helpers they share are in bind.c. */
#include "core.h"

#include <lauxlib.h>

int luaopen_ftplib_core(lua_State *L)
{
    luaL_checkversion(L);
    lua_newtable(L);
    ftp_open_net(L);
    ftp_open_reply(L);
    ftp_open_ftp(L);
    ftp_open_data(L);
    ftp_open_tls(L);
    ftp_open_iconv(L);
    ftp_open_file(L);
    ftp_open_digest(L);
    return 1;
}
