/* The ftplib.FTP userdata: a control connection driven by non-blocking steps.
 * The Lua side (lua/ftplib/control.lua) waits between steps, so that the same
 * steps serve blocking calls and, later, a coroutine scheduler. */
#include "bind.h"
#include "core.h"
#include "session.h"
#include "status.h"

#include <string.h>
#include <sys/socket.h>

static ftp_session *check_ftp(lua_State *L)
{
    return ftp_check_session(L, 1);
}

static ftp_session *check_open(lua_State *L)
{
    ftp_session *s = check_ftp(L);
    if (s->conn.fd < 0)
        luaL_error(L, "attempt to use a closed FTP connection");
    return s;
}

static int push_step(lua_State *L, ftp_session *s, int status)
{
    if (status == FTP_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return ftp_push_conn_status(L, status, &s->conn);
}

/* core.FTP_new() -> a closed FTP object with an empty field table */
static int l_new(lua_State *L)
{
    ftp_session *s = ftp_new_object(L, sizeof *s, FTP_MT);
    ftp_session_init(s);
    return 1;
}

/* ftp:_connect(sa [, source_sa]) -> true | false, "w" | nil, msg, code */
static int l_connect(lua_State *L)
{
    ftp_session *s = check_ftp(L);
    ftp_addr dst, src = {.len = 0};
    ftp_check_addr(L, 2, &dst);
    if (!lua_isnoneornil(L, 3))
        ftp_check_addr(L, 3, &src);
    ftp_session_close(s);
    int fd, err = 0;
    int st = ftp_net_connect(&dst, &src, 0, &fd, &err);
    if (st == FTP_ESYS)
        return ftp_push_status(L, st, err);
    ftp_session_attach(s, fd);
    if (st == FTP_OK)
        ftp_session_learn_addresses(s);
    return push_step(L, s, st);
}

/* ftp:_connected() -> true | nil, msg, code: the outcome of a connect that
 * was in progress, once the socket is writable. */
static int l_connected(lua_State *L)
{
    ftp_session *s = check_open(L);
    int err = 0;
    int st = ftp_net_connect_result(s->conn.fd, &err);
    if (st == FTP_WANT_WRITE)
        return push_step(L, s, st);
    if (st != FTP_OK) {
        ftp_session_close(s);
        return ftp_push_status(L, st, err);
    }
    ftp_session_learn_addresses(s);
    return push_step(L, s, FTP_OK);
}

static void check_command(lua_State *L, const char *cmd, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (cmd[i] == '\r' || cmd[i] == '\n' || cmd[i] == '\0')
            luaL_argerror(L, 2, "command contains CR, LF or NUL");
}

/* ftp:_send(line [, hold]): queues line CRLF and starts sending it; with
 * hold, only queues it (it goes out with the next line sent: two pipelined
 * commands in one segment, one wakeup of the server). */
static int l_send(lua_State *L)
{
    ftp_session *s = check_open(L);
    size_t len;
    const char *cmd = luaL_checklstring(L, 2, &len);
    check_command(L, cmd, len);
    if (ftp_session_queue(s, cmd, len) < 0)
        return luaL_error(L, "not enough memory");
    if (lua_toboolean(L, 3)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return push_step(L, s, ftp_session_flush(s));
}

static int l_flush(lua_State *L)
{
    ftp_session *s = check_open(L);
    return push_step(L, s, ftp_session_flush(s));
}

/* ftp:_send_abort(urgent): ABOR. With urgent, on a plain connection with
 * nothing else queued, Telnet IP and Synch go first (RFC 959 4.1.3), the
 * Synch's IAC as TCP urgent data: a server that reads no command while it
 * sends (BSD ftpd) gets SIGURG and looks. Under TLS never: bytes sent
 * beside the TLS records would break the stream (the server answers with a
 * TLS alert and drops the session), so ABOR goes in band, as any command. */
static int l_send_abort(lua_State *L)
{
    ftp_session *s = check_open(L);
    int urgent = lua_toboolean(L, 2) && s->conn.ssl == NULL
                 && ftp_buf_size(&s->out) == 0;
    static const char ip_iac[] = "\xff\xf4\xff";
    int urgent_sent = urgent
                      && send(s->conn.fd, ip_iac, 3, MSG_OOB | MSG_NOSIGNAL) == 3;
    const char *line = urgent_sent ? "\xf2" "ABOR" : "ABOR";
    if (ftp_session_queue(s, line, strlen(line)) < 0)
        return luaL_error(L, "not enough memory");
    return push_step(L, s, ftp_session_flush(s));
}

/* The reply as Lua sees it: lines joined by "\n", no final line end. */
static void push_reply_text(lua_State *L, const char *text, size_t len)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
            continue;
        if (text[i] == '\n' && i + 1 == len)
            break;
        luaL_addchar(&b, text[i]);
    }
    luaL_pushresult(&b);
}

/* ftp:_reply() -> code, text | false, "r" | nil, msg, code */
static int l_reply(lua_State *L)
{
    ftp_session *s = check_open(L);
    int code;
    const char *text;
    size_t len;
    int st = ftp_session_reply(s, &code, &text, &len);
    if (st != FTP_OK)
        return push_step(L, s, st);
    lua_pushinteger(L, code);
    push_reply_text(L, text, len);
    ftp_session_take_reply(s, len);
    return 2;
}

static int l_fd(lua_State *L)
{
    lua_pushinteger(L, check_ftp(L)->conn.fd);
    return 1;
}

static int l_isopen(lua_State *L)
{
    lua_pushboolean(L, check_ftp(L)->conn.fd >= 0);
    return 1;
}

static int l_limits(lua_State *L)
{
    ftp_session *s = check_ftp(L);
    lua_Integer maxline = luaL_checkinteger(L, 2);
    lua_Integer maxreply = luaL_checkinteger(L, 3);
    luaL_argcheck(L, maxline >= 16, 2, "maxline must be at least 16");
    luaL_argcheck(L, maxreply >= maxline, 3, "maxreply must be at least maxline");
    s->lim.maxline = (size_t)maxline;
    s->lim.maxreply = (size_t)maxreply;
    return 0;
}

static int push_endpoint(lua_State *L, const ftp_addr *a)
{
    char host[64];
    int port;
    ftp_net_addr_text(a, host, sizeof host, &port);
    lua_pushstring(L, host);
    lua_pushinteger(L, port);
    ftp_push_addr(L, a);
    lua_pushstring(L, a->sa.ss_family == AF_INET6 ? "inet6" : "inet");
    return 4;
}

/* ftp:_peer() / ftp:_local() -> host, port, sa, family */
static int l_peer(lua_State *L) { return push_endpoint(L, &check_open(L)->peer); }
static int l_local(lua_State *L) { return push_endpoint(L, &check_open(L)->local); }

/* ftp:_peer_at(port) -> sa: the server's address at another port, where an
 * EPSV reply says to connect (no text form made and parsed back: each small
 * file's data connection starts here). */
static int l_peer_at(lua_State *L)
{
    ftp_addr a = check_open(L)->peer;
    lua_Integer port = luaL_checkinteger(L, 2);
    luaL_argcheck(L, port > 0 && port <= 65535, 2, "port out of range");
    ftp_net_set_port(&a, (int)port);
    ftp_push_addr(L, &a);
    return 1;
}

static int l_close(lua_State *L)
{
    ftp_session_close(check_ftp(L));
    return 0;
}

static int l_gc(lua_State *L)
{
    ftp_session_free(check_ftp(L));
    return 0;
}

static int l_tostring(lua_State *L)
{
    ftp_session *s = check_ftp(L);
    if (s->conn.fd < 0) {
        lua_pushfstring(L, "ftplib.FTP (closed): %p", (void *)s);
        return 1;
    }
    char host[64];
    int port;
    ftp_net_addr_text(&s->peer, host, sizeof host, &port);
    const char *fmt = strchr(host, ':') ? "ftplib.FTP ([%s]:%d): %p"
                                        : "ftplib.FTP (%s:%d): %p";
    lua_pushfstring(L, fmt, host, port, (void *)s);
    return 1;
}

static const luaL_Reg methods[] = {
    {"_connect", l_connect}, {"_connected", l_connected},
    {"_send", l_send},       {"_flush", l_flush},
    {"_send_abort", l_send_abort},
    {"_reply", l_reply},     {"_fd", l_fd},
    {"_isopen", l_isopen},
    {"_limits", l_limits},   {"_peer", l_peer},       {"_peer_at", l_peer_at},
    {"_local", l_local},     {"_close", l_close},
    {NULL, NULL}};

static const luaL_Reg meta[] = {
    {"__gc", l_gc}, {"__tostring", l_tostring}, {NULL, NULL}};

void ftp_open_ftp(lua_State *L)
{
    ftp_new_class(L, FTP_MT, methods, meta);
    lua_pop(L, 1);                  /* the metatable stays in the registry */
    lua_setfield(L, -2, "FTP_methods");
    lua_pushcfunction(L, l_new);
    lua_setfield(L, -2, "FTP_new");
}
