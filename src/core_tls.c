/* TLS in the binding: the ftplib.TLSContext userdata and the TLS steps of
 * FTP and Data objects (start, handshake, shutdown), both working on the
 * ftp_conn inside the object. */
#include "bind.h"
#include "core.h"
#include "data.h"
#include "session.h"
#include "status.h"
#include "tls.h"

#include <string.h>

static ftp_tls_ctx *check_ctx(lua_State *L, int arg)
{
    ftp_tls_ctx *t = luaL_checkudata(L, arg, TLS_MT);
    if (t->ctx == NULL)
        luaL_argerror(L, arg, "TLS context is closed");
    return t;
}

static const char *opt_string(lua_State *L, int table, const char *key)
{
    lua_getfield(L, table, key);
    const char *s = lua_isnil(L, -1) ? NULL : luaL_checkstring(L, -1);
    lua_pop(L, 1); /* the string stays alive in the options table */
    return s;
}

static int opt_version(lua_State *L, int table, const char *key)
{
    static const char *const names[] = {"TLSv1.2", "TLSv1.3", NULL};
    static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
    lua_getfield(L, table, key);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    int which = luaL_checkoption(L, -1, NULL, names);
    lua_pop(L, 1);
    return versions[which];
}

/* core.TLS_new(opts) -> context | nil, msg, "tls" */
static int l_tls_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    ftp_tls_opts o = {
        .cafile = opt_string(L, 1, "cafile"), .capath = opt_string(L, 1, "capath"),
        .certfile = opt_string(L, 1, "certfile"), .keyfile = opt_string(L, 1, "keyfile"),
        .ciphers = opt_string(L, 1, "ciphers"),
        .ciphersuites = opt_string(L, 1, "ciphersuites"),
        .min_version = opt_version(L, 1, "min_version"),
        .max_version = opt_version(L, 1, "max_version"),
    };
    lua_getfield(L, 1, "verify");
    o.verify = lua_isnil(L, -1) || lua_toboolean(L, -1);
    lua_pop(L, 1);
    ftp_tls_ctx *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    luaL_setmetatable(L, TLS_MT);
    char err[300];
    if (ftp_tls_ctx_init(t, &o, err, sizeof err) < 0)
        return ftp_push_error(L, err, "tls");
    return 1;
}

/* core.TLS_sessions(ctx) -> how many unused sessions wait for data
 * connections to resume: for specs and debugging. */
static int l_tls_sessions(lua_State *L)
{
    lua_pushinteger(L, check_ctx(L, 1)->n_unused);
    return 1;
}

static int l_tls_gc(lua_State *L)
{
    ftp_tls_ctx_free(luaL_checkudata(L, 1, TLS_MT));
    return 0;
}

static int push_conn_step(lua_State *L, ftp_conn *c, int st)
{
    if (st == FTP_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    return ftp_push_conn_status(L, st, c);
}

/* Creates the SSL of c for host: control connections never resume, data
 * connections resume a session kept from an earlier connection. */
static int start_tls(lua_State *L, ftp_conn *c, int is_control)
{
    ftp_tls_ctx *t = check_ctx(L, 2);
    const char *host = luaL_optstring(L, 3, NULL);
    if (c->fd < 0)
        return luaL_error(L, "attempt to use a closed connection");
    char err[300];
    SSL *ssl = ftp_tls_new(t, c->fd, host, !is_control, err, sizeof err);
    if (ssl == NULL)
        return ftp_push_error(L, err, "tls");
    ftp_conn_start_tls(c, ssl);
    lua_pushboolean(L, 1);
    return 1;
}

static ftp_conn *secured(lua_State *L, ftp_conn *c)
{
    if (c->ssl == NULL)
        luaL_error(L, "connection is not secured");
    return c;
}

#define CONN_OF_FTP(L) (&ftp_check_session(L, 1)->conn)
#define CONN_OF_DATA(L) (&ftp_check_data(L, 1)->conn)

static int ftp_starttls(lua_State *L) { return start_tls(L, CONN_OF_FTP(L), 1); }
static int data_starttls(lua_State *L) { return start_tls(L, CONN_OF_DATA(L), 0); }

static int handshake(lua_State *L, ftp_conn *c)
{
    return push_conn_step(L, c, ftp_conn_handshake(secured(L, c)));
}
static int ftp_handshake(lua_State *L) { return handshake(L, CONN_OF_FTP(L)); }
static int data_handshake(lua_State *L) { return handshake(L, CONN_OF_DATA(L)); }

static int shutdown_tls(lua_State *L, ftp_conn *c)
{
    return push_conn_step(L, c, ftp_conn_shutdown_tls(secured(L, c)));
}
static int ftp_shutdown(lua_State *L) { return shutdown_tls(L, CONN_OF_FTP(L)); }
static int data_shutdown(lua_State *L) { return shutdown_tls(L, CONN_OF_DATA(L)); }

/* data:_drain_tls() -> true | false, "r" | nil, msg, code: reads whatever
 * records have arrived, discarding their bytes. Before close_notify on an
 * upload: the server's session tickets come after the handshake, and
 * OpenSSL ignores what arrives once our close_notify is sent. */
static int data_drain(lua_State *L)
{
    ftp_conn *c = secured(L, CONN_OF_DATA(L));
    char scratch[4096];
    for (;;) {
        size_t got;
        int st = ftp_conn_read(c, scratch, sizeof scratch, &got);
        if (st == FTP_OK)
            continue;
        if (st == FTP_CLOSED && c->err == 0)
            st = FTP_OK; /* the end: nothing more will come */
        return push_conn_step(L, c, st);
    }
}

static int ftp_drop(lua_State *L)
{
    ftp_conn_drop_tls(CONN_OF_FTP(L));
    return 0;
}

static int is_secured(lua_State *L, ftp_conn *c)
{
    lua_pushboolean(L, c->ssl != NULL);
    return 1;
}
static int ftp_secured(lua_State *L) { return is_secured(L, CONN_OF_FTP(L)); }
static int data_secured(lua_State *L) { return is_secured(L, CONN_OF_DATA(L)); }

static int data_resumed(lua_State *L)
{
    lua_pushboolean(L, ftp_conn_tls_resumed(CONN_OF_DATA(L)));
    return 1;
}

static int data_unclean_eof(lua_State *L)
{
    lua_pushboolean(L, CONN_OF_DATA(L)->unclean_eof);
    return 1;
}

static const luaL_Reg ftp_methods[] = {
    {"_starttls", ftp_starttls}, {"_handshake", ftp_handshake},
    {"_shutdown_tls", ftp_shutdown}, {"_drop_tls", ftp_drop},
    {"_secured", ftp_secured}, {NULL, NULL}};

static const luaL_Reg data_methods[] = {
    {"_starttls", data_starttls}, {"_handshake", data_handshake},
    {"_shutdown_tls", data_shutdown}, {"_secured", data_secured},
    {"_resumed", data_resumed}, {"_unclean_eof", data_unclean_eof},
    {"_drain_tls", data_drain},
    {NULL, NULL}};

static const luaL_Reg ctx_meta[] = {{"__gc", l_tls_gc}, {NULL, NULL}};

void ftp_open_tls(lua_State *L)
{
    luaL_newmetatable(L, TLS_MT);
    luaL_setfuncs(L, ctx_meta, 0);
    lua_pop(L, 1);
    lua_pushcfunction(L, l_tls_new);
    lua_setfield(L, -2, "TLS_new");
    lua_pushcfunction(L, l_tls_sessions);
    lua_setfield(L, -2, "TLS_sessions");
    lua_getfield(L, -1, "FTP_methods");
    luaL_setfuncs(L, ftp_methods, 0);
    lua_pop(L, 1);
    lua_getfield(L, -1, "Data_methods");
    luaL_setfuncs(L, data_methods, 0);
    lua_pop(L, 1);
}
