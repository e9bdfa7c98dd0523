/* The ftplib.Data userdata: one data connection and its transfer steps.
 * As for the control connection, Lua (lua/ftplib/transfer.lua) waits
 * between the steps. */
#include "bind.h"
#include "core.h"

#include <sys/socket.h>
#include "data.h"
#include "status.h"

#include <lualib.h>
#include <string.h>

static ftp_data *check_data(lua_State *L)
{
    return ftp_check_data(L, 1);
}

static ftp_data *check_connected(lua_State *L)
{
    ftp_data *d = check_data(L);
    if (d->conn.fd < 0)
        luaL_error(L, "attempt to use a closed data connection");
    return d;
}

static int push_step(lua_State *L, ftp_data *d, int status)
{
    if (status == FTP_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (status == FTP_EIO)
        return ftp_push_status(L, status, d->local_err);
    if (status == FTP_EPROTO && d->z_err != NULL)
        return ftp_push_error(L, d->z_err, "proto");
    if (status == FTP_ELIMIT && d->z_err != NULL)
        return ftp_push_error(L, d->z_err, "limit");
    return ftp_push_conn_status(L, status, &d->conn);
}

/* A step the rate limit holds back: false, "pause", seconds to wait. */
static int push_pause(lua_State *L, const ftp_data *d)
{
    lua_pushboolean(L, 0);
    lua_pushliteral(L, "pause");
    lua_pushnumber(L, ftp_data_pause(d));
    return 3;
}

static FILE *check_file(lua_State *L, int arg)
{
    luaL_Stream *s = luaL_checkudata(L, arg, LUA_FILEHANDLE);
    if (s->closef == NULL)
        luaL_argerror(L, arg, "attempt to use a closed file");
    return s->f;
}

static int l_new(lua_State *L)
{
    ftp_data *d = ftp_new_object(L, sizeof *d, DATA_MT);
    ftp_data_init(d);
    return 1;
}

/* data:_connect(sa) -> true | false, "w" | nil, msg, code (passive mode) */
static int l_connect(lua_State *L)
{
    ftp_data *d = check_data(L);
    ftp_addr dst;
    ftp_check_addr(L, 2, &dst);
    return push_step(L, d, ftp_data_connect(d, &dst));
}

static int l_connected(lua_State *L)
{
    ftp_data *d = check_connected(L);
    int st = ftp_net_connect_result(d->conn.fd, &d->conn.err);
    if (st != FTP_OK && st != FTP_WANT_WRITE)
        ftp_data_close(d);
    return push_step(L, d, st);
}

/* data:_listen(sa, lo, hi) -> host, port, family (active mode) */
static int l_listen(lua_State *L)
{
    ftp_data *d = check_data(L);
    ftp_addr host, bound;
    ftp_check_addr(L, 2, &host);
    int lo = (int)luaL_optinteger(L, 3, 0), hi = (int)luaL_optinteger(L, 4, 0);
    luaL_argcheck(L, lo >= 0 && lo <= 65535, 3, "port out of range");
    luaL_argcheck(L, hi >= lo && hi <= 65535, 4, "port out of range");
    int st = ftp_data_listen(d, &host, lo, hi, &bound);
    if (st != FTP_OK)
        return push_step(L, d, st);
    char text[64];
    int port;
    ftp_net_addr_text(&bound, text, sizeof text, &port);
    lua_pushstring(L, text);
    lua_pushinteger(L, port);
    lua_pushstring(L, bound.sa.ss_family == AF_INET6 ? "inet6" : "inet");
    return 3;
}

static int l_listen_fd(lua_State *L)
{
    lua_pushinteger(L, check_data(L)->listen_fd);
    return 1;
}

/* data:_accept(server_sa) -> true | false, "r" | nil, msg, code */
static int l_accept(lua_State *L)
{
    ftp_data *d = check_data(L);
    ftp_addr server;
    ftp_check_addr(L, 2, &server);
    if (d->listen_fd < 0)
        return luaL_error(L, "data connection is not listening");
    return push_step(L, d, ftp_data_accept(d, &server));
}

/* data:_recv(n) -> up to n bytes | "" at the end | false, "r" |
 * false, "pause", seconds (the rate limit) | nil, msg, code.
 * The block is read into the connection's buffer and copied once, into the
 * string: no allocation but the string's own. */
static int l_recv(lua_State *L)
{
    ftp_data *d = check_connected(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_argcheck(L, n > 0, 2, "size must be positive");
    /* Bytes read ahead were counted against the limit when read. */
    size_t ahead = ftp_data_read_ahead(d);
    size_t allowed = ahead > 0 ? ahead : ftp_data_allow(d, FTP_RECV_BUF);
    if (allowed == 0)
        return push_pause(L, d);
    const char *block;
    size_t got = 0;
    long long wire0 = d->wire;
    int st = ftp_data_recv_chunk(d, (size_t)n, allowed, &block, &got);
    ftp_data_spend(d, (size_t)(d->wire - wire0)); /* the limit counts the wire */
    if (st == FTP_CLOSED && d->conn.err == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    if (st != FTP_OK)
        return push_step(L, d, st);
    d->bytes += (long long)got;
    lua_pushlstring(L, block, got);
    return 1;
}

/* data:_send(s, i) -> bytes sent from s[i..] | false, "w" |
 * false, "pause", seconds (the rate limit) | nil, msg, code */
static int l_send(lua_State *L)
{
    ftp_data *d = check_connected(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, i >= 1 && (size_t)i <= len + 1, 3, "index out of range");
    size_t left = len - (size_t)(i - 1), allowed = left;
    if (left > 0 && (allowed = ftp_data_allow(d, left)) == 0)
        return push_pause(L, d);
    size_t put = 0;
    long long wire0 = d->wire;
    int st = ftp_data_send(d, s + i - 1, allowed, &put);
    ftp_data_spend(d, (size_t)(d->wire - wire0));
    if (st != FTP_OK)
        return push_step(L, d, st);
    lua_pushinteger(L, (lua_Integer)put);
    return 1;
}

/* Result of a file pump: moved, "r"|"w"|"done"|"more" | 0, "pause",
 * seconds | nil, msg, code. "more": ready to go on, but the step moved its
 * share (see data.h); "pause": the rate limit holds it back that long. */
static int push_pump(lua_State *L, ftp_data *d, int st, size_t moved)
{
    static const char *const states[] = {"done", "r", "w", "more", "pause"};
    if (st < FTP_OK || st > FTP_PAUSE)
        return push_step(L, d, st);
    lua_pushinteger(L, (lua_Integer)moved);
    lua_pushstring(L, states[st]);
    if (st != FTP_PAUSE)
        return 2;
    lua_pushnumber(L, ftp_data_pause(d));
    return 3;
}

static int l_to_file(lua_State *L)
{
    ftp_data *d = check_connected(L);
    size_t moved;
    int st = ftp_data_to_file(d, check_file(L, 2), &moved);
    return push_pump(L, d, st, moved);
}

static int l_from_file(lua_State *L)
{
    ftp_data *d = check_connected(L);
    size_t moved;
    int st = ftp_data_from_file(d, check_file(L, 2), &moved);
    if (st == FTP_OK)
        st = ftp_data_flush(d);
    return push_pump(L, d, st, moved);
}

/* data:_set_rate(bytes_per_second): the transfer's rate limit, 0 for none. */
static int l_set_rate(lua_State *L)
{
    ftp_data *d = check_data(L);
    lua_Number rate = luaL_checknumber(L, 2);
    luaL_argcheck(L, rate >= 0, 2, "rate must not be negative");
    ftp_data_set_rate(d, (double)rate);
    return 0;
}

/* data:_set_mode_z(on): MODE Z for this connection (before any byte moves). */
static int l_set_mode_z(lua_State *L)
{
    ftp_data *d = check_data(L);
    ftp_data_set_mode_z(d, lua_toboolean(L, 2));
    return 0;
}

/* data:_set_expect(size): see ftp_data_set_expect. */
static int l_set_expect(lua_State *L)
{
    ftp_data *d = check_data(L);
    lua_Integer size = luaL_checkinteger(L, 2);
    luaL_argcheck(L, size >= 0, 2, "size must not be negative");
    ftp_data_set_expect(d, (long long)size);
    return 0;
}

/* data:_finish([upload]) -> true | false, "w" | nil, msg, code: under
 * MODE Z, the end of the zlib stream sent (see ftp_data_finish). */
static int l_finish(lua_State *L)
{
    ftp_data *d = check_connected(L);
    return push_step(L, d, ftp_data_finish(d, lua_toboolean(L, 2)));
}

/* data:_wire() -> bytes through the socket (under MODE Z the compressed
 * ones; _bytes counts the file's). */
static int l_wire(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_data(L)->wire);
    return 1;
}

static int l_fd(lua_State *L)
{
    lua_pushinteger(L, check_data(L)->conn.fd);
    return 1;
}

static int l_bytes(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_data(L)->bytes);
    return 1;
}

static int l_isopen(lua_State *L)
{
    ftp_data *d = check_data(L);
    lua_pushboolean(L, d->conn.fd >= 0 || d->listen_fd >= 0);
    return 1;
}

/* data:_close([reset]): with reset, the connection ends with a TCP RST
 * (SO_LINGER 0) rather than a FIN. */
static int l_close(lua_State *L)
{
    ftp_data *d = check_data(L);
    if (lua_toboolean(L, 2) && d->conn.fd >= 0) {
        struct linger now = {.l_onoff = 1, .l_linger = 0};
        setsockopt(d->conn.fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
    }
    ftp_data_close(d);
    return 0;
}

static int l_gc(lua_State *L)
{
    ftp_data_free(check_data(L));
    return 0;
}

static int l_tostring(lua_State *L)
{
    ftp_data *d = check_data(L);
    const char *state = d->conn.fd >= 0 ? "connected"
                      : d->listen_fd >= 0 ? "listening" : "closed";
    lua_pushfstring(L, "ftplib.Data (%s, %I bytes): %p", state,
                    (lua_Integer)d->bytes, (void *)d);
    return 1;
}

static const luaL_Reg methods[] = {
    {"_connect", l_connect},     {"_connected", l_connected},
    {"_listen", l_listen},       {"_listen_fd", l_listen_fd},
    {"_accept", l_accept},       {"_recv", l_recv},
    {"_send", l_send},           {"_to_file", l_to_file},
    {"_from_file", l_from_file}, {"_fd", l_fd},
    {"_bytes", l_bytes},         {"_isopen", l_isopen},
    {"_close", l_close},         {"_set_rate", l_set_rate},
    {"_set_mode_z", l_set_mode_z}, {"_finish", l_finish},
    {"_wire", l_wire},           {"_set_expect", l_set_expect},
    {NULL, NULL}};

static const luaL_Reg meta[] = {
    {"__gc", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};

void ftp_open_data(lua_State *L)
{
    ftp_new_class(L, DATA_MT, methods, meta);
    lua_pop(L, 1);
    lua_setfield(L, -2, "Data_methods");
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "Data_new");
}
