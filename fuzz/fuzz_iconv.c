/* The file-name converter (src/core_iconv.c, core.iconv_open / cv:convert) on
 * any bytes, in a Lua state as the module uses it. It is fed what a server
 * sends: names in listings and replies, in the server's encoding. First byte:
 * which conversion; the rest: the text. Properties: convert either gives a
 * string or nil, a message, "proto" (never raises); the byte a failure points
 * at lies within the input; a converter answers the same as a fresh one,
 * whatever it converted before (the converters are made once and shared by
 * all inputs); and through the reversible pairs (UTF-8 to UTF-16/UTF-32 and
 * back; Latin-1 to UTF-8 and back) a converted text comes back unchanged. */
#include "check.h"
#include "core.h"
#include <lauxlib.h>

#include <lualib.h>

typedef struct pair {
    const char *to, *from;
    int reversible; /* index of the converter back, or -1 */
} pair;

static const pair pairs[] = {
    {"UTF-8", "GBK", -1},          {"GBK", "UTF-8", -1},
    {"UTF-8", "SHIFT_JIS", -1},    {"UTF-8", "BIG5", -1},
    {"UTF-8", "ISO-2022-JP", -1},  {"ISO-2022-JP", "UTF-8", -1},
    {"UTF-16LE", "UTF-8", 7},      {"UTF-8", "UTF-16LE", 6},
    {"UTF-32", "UTF-8", 9},        {"UTF-8", "UTF-32", -1},
    {"UTF-8", "ISO-8859-1", 11},   {"ISO-8859-1", "UTF-8", -1},
    {"UTF-8", "CP1252", -1},       {"UTF-8//TRANSLIT", "CP437", -1},
    {"UTF-8", "UTF-16", -1}, /* byte order from a BOM, per string */
};
enum { NPAIRS = sizeof pairs / sizeof pairs[0] };

static lua_State *L;
static int converters; /* registry reference: a table of the converters */
static int opener;     /* registry reference: core.iconv_open */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    L = luaL_newstate();
    CHECK(L != NULL);
    luaL_openlibs(L);
    lua_newtable(L); /* stands for the module table */
    ftp_open_iconv(L);
    lua_getfield(L, -1, "iconv_open");
    lua_pushvalue(L, -1);
    opener = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    for (int i = 0; i < NPAIRS; i++) {
        lua_pushvalue(L, -2);
        lua_pushstring(L, pairs[i].to);
        lua_pushstring(L, pairs[i].from);
        lua_call(L, 2, 1);
        lua_rawseti(L, -2, i + 1);
    }
    converters = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    return 0;
}

/* Pushes the shared converter of pair `which`, or a new one. */
static void push_converter(int which, int fresh)
{
    if (fresh) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, opener);
        lua_pushstring(L, pairs[which].to);
        lua_pushstring(L, pairs[which].from);
        lua_call(L, 2, 1);
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, converters);
        lua_rawgeti(L, -1, which + 1);
        lua_remove(L, -2);
    }
}

/* cv:convert(text) in protected mode. Leaves the results on the stack and
 * returns how many there are. */
static int convert_with(int which, int fresh, const char *text, size_t len)
{
    int base = lua_gettop(L);
    push_converter(which, fresh);
    lua_getfield(L, -1, "convert");
    lua_insert(L, -2);
    lua_pushlstring(L, text, len);
    CHECK(lua_pcall(L, 2, LUA_MULTRET, 0) == LUA_OK); /* never raises */
    return lua_gettop(L) - base;
}

static int convert(int which, const char *text, size_t len)
{
    return convert_with(which, 0, text, len);
}

/* The last n values on the stack equal the n before them. */
static void check_same_answers(int n)
{
    for (int i = 1; i <= n; i++)
        CHECK(lua_rawequal(L, -i, -i - n));
}

/* A failure is nil, "... at byte N", "proto" with 1 <= N <= len + 1. */
static void check_failure(int n, size_t len)
{
    CHECK(n == 3 && lua_isnil(L, -3));
    CHECK(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "proto") == 0);
    const char *msg = lua_tostring(L, -2);
    CHECK(msg != NULL);
    const char *at = strstr(msg, " at byte ");
    CHECK(at != NULL);
    long byte = strtol(at + 9, NULL, 10);
    CHECK(byte >= 1 && (size_t)byte <= len + 1);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % NPAIRS;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int fresh_n = convert_with(which, 1, text, len);
    int n = convert(which, text, len);
    CHECK(n == fresh_n);
    check_same_answers(n);
    if (lua_isnil(L, -n)) {
        check_failure(n, len);
    } else if (pairs[which].reversible >= 0) {
        CHECK(n == 1 && lua_type(L, -1) == LUA_TSTRING);
        size_t out_len;
        const char *out = lua_tolstring(L, -1, &out_len);
        int back_n = convert(pairs[which].reversible, out, out_len);
        CHECK(back_n == 1 && lua_type(L, -1) == LUA_TSTRING);
        size_t back_len;
        const char *back = lua_tolstring(L, -1, &back_len);
        CHECK(back_len == len && memcmp(back, text, len) == 0);
    }
    lua_settop(L, 0);
    return 0;
}
