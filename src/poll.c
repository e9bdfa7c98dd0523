/* core.poll: one poll() over many descriptors, for the coroutine scheduler
 * (lua/ftplib/sched.lua), which runs many sessions in one thread. */
#include "core.h"
#include "status.h"

#include <errno.h>
#include <poll.h>

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

/* Waits up to timeout_s (negative: no limit) and returns poll's count. */
static int poll_until(struct pollfd *p, nfds_t n, double timeout_s)
{
    double deadline = ftp_net_now() + timeout_s;
    for (;;) {
        int ms = -1;
        if (timeout_s >= 0) {
            double left = deadline - ftp_net_now();
            /* Round up so that a wait never ends before its deadline. */
            ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
        }
        int rc = poll(p, n, ms);
        if (rc >= 0 || errno != EINTR)
            return rc;
    }
}

/* core.poll(fds, dirs, timeout) -> { i, ... } the indexes of the entries
 * that are ready (an error or hang-up counts: the next step shows it),
 * {} when the timeout passed | nil, msg, code. With no entries it sleeps. */
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
    int rc = poll_until(p, (nfds_t)n, timeout);
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

void ftp_open_poll(lua_State *L)
{
    lua_pushcfunction(L, l_poll);
    lua_setfield(L, -2, "poll");
}
