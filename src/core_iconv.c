/* Character set conversion for file names (glibc iconv), as Lua objects:
 *
 *   local cv = core.iconv_open("GBK", "UTF-8")   -- raises on an unknown name
 *   cv:convert(s) --> converted string | nil, message, "proto"
 *
 * Each object owns its iconv descriptor: nothing is shared between objects,
 * so Lua states in several threads may convert at once. A conversion never
 * stops half-way with a partial result: invalid or incomplete input, or a
 * character the target cannot represent, gives nil and says where. */
#include "core.h"

#include <lauxlib.h>

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

#define ICONV_MT "ftplib.Iconv"

typedef struct {
    iconv_t cd;    /* (iconv_t)-1 once closed */
    char to[64];   /* the names, for messages, __tostring and restart */
    char from[64];
} converter;

static converter *check_converter(lua_State *L)
{
    converter *cv = luaL_checkudata(L, 1, ICONV_MT);
    if (cv->cd == (iconv_t)-1)
        luaL_error(L, "ftplib: converter is closed");
    return cv;
}

/* core.iconv_open(to, from): an unknown name is a programming error. */
static int l_iconv_open(lua_State *L)
{
    const char *to = luaL_checkstring(L, 1);
    const char *from = luaL_checkstring(L, 2);
    luaL_argcheck(L, strlen(to) < sizeof ((converter *)0)->to, 1, "encoding name too long");
    luaL_argcheck(L, strlen(from) < sizeof ((converter *)0)->from, 2, "encoding name too long");
    converter *cv = lua_newuserdatauv(L, sizeof *cv, 0);
    cv->cd = (iconv_t)-1; /* __gc is safe whatever happens next */
    luaL_setmetatable(L, ICONV_MT);
    cv->cd = iconv_open(to, from);
    if (cv->cd == (iconv_t)-1) {
        if (errno == EINVAL)
            return luaL_error(L, "ftplib: no conversion from encoding '%s' to '%s'"
                              " (not an iconv name?)", from, to);
        char msg[128];
        return luaL_error(L, "ftplib: iconv_open failed: %s", strerror_r(errno, msg, sizeof msg));
    }
    snprintf(cv->to, sizeof cv->to, "%s", to);
    snprintf(cv->from, sizeof cv->from, "%s", from);
    return 1;
}

static int failure(lua_State *L, const converter *cv, const char *what, size_t at)
{
    lua_pushnil(L);
    lua_pushfstring(L, "cannot convert from %s to %s: %s at byte %d", cv->from, cv->to,
                    what, (int)at + 1);
    lua_pushstring(L, "proto");
    return 3;
}

/* One iconv step into the buffer b: more output room each call. */
static size_t step(converter *cv, luaL_Buffer *b, char **in, size_t *inleft, int *err)
{
    size_t room = (in ? *inleft : 0) * 2 + 16;
    char *out = luaL_prepbuffsize(b, room);
    char *start = out;
    size_t rc = iconv(cv->cd, in, inleft, &out, &room);
    *err = errno;
    luaL_addsize(b, (size_t)(out - start));
    return rc;
}

/* A fresh descriptor for each string. iconv(cd, NULL, ...) resets the shift
 * state, but glibc's UTF-16 and UTF-32 decoders keep the byte order of the
 * first BOM they saw: a string would convert differently after another one
 * (found by fuzz/fuzz_iconv.c). Opening costs under a microsecond. */
static void restart(lua_State *L, converter *cv)
{
    iconv_t cd = iconv_open(cv->to, cv->from);
    if (cd == (iconv_t)-1) {
        char msg[128];
        luaL_error(L, "ftplib: iconv_open failed: %s", strerror_r(errno, msg, sizeof msg));
    }
    iconv_close(cv->cd);
    cv->cd = cd;
}

/* iconv writes straight into a luaL_Buffer, grown as it asks (E2BIG). */
static int l_convert(lua_State *L)
{
    converter *cv = check_converter(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    char *in = (char *)s;
    size_t inleft = len;
    int err = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    restart(L, cv); /* each string starts in the initial state */
    while (inleft > 0) {
        if (step(cv, &b, &in, &inleft, &err) != (size_t)-1 || err == E2BIG)
            continue;
        if (err == EILSEQ)
            return failure(L, cv, "invalid or unrepresentable sequence", (size_t)(in - s));
        if (err == EINVAL)
            return failure(L, cv, "incomplete sequence", (size_t)(in - s));
        break;
    }
    if (inleft > 0) {
        char msg[128];
        return failure(L, cv, strerror_r(err, msg, sizeof msg), (size_t)(in - s));
    }
    /* The closing shift sequence of stateful encodings (ISO-2022-JP and the like). */
    while (step(cv, &b, NULL, NULL, &err) == (size_t)-1) {
        char msg[128];
        if (err != E2BIG)
            return failure(L, cv, strerror_r(err, msg, sizeof msg), len);
    }
    luaL_pushresult(&b);
    return 1;
}

static int l_close(lua_State *L)
{
    converter *cv = luaL_checkudata(L, 1, ICONV_MT);
    if (cv->cd != (iconv_t)-1) {
        iconv_close(cv->cd);
        cv->cd = (iconv_t)-1;
    }
    return 0;
}

static int l_tostring(lua_State *L)
{
    converter *cv = luaL_checkudata(L, 1, ICONV_MT);
    lua_pushfstring(L, "ftplib.Iconv (%s to %s%s)", cv->from, cv->to,
                    cv->cd == (iconv_t)-1 ? ", closed" : "");
    return 1;
}

static const luaL_Reg methods[] = {
    {"convert", l_convert}, {"close", l_close}, {NULL, NULL}};

static const luaL_Reg meta[] = {
    {"__gc", l_close}, {"__close", l_close}, {"__tostring", l_tostring}, {NULL, NULL}};

void ftp_open_iconv(lua_State *L)
{
    luaL_newmetatable(L, ICONV_MT);
    luaL_setfuncs(L, meta, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, l_iconv_open);
    lua_setfield(L, -2, "iconv_open");
}
