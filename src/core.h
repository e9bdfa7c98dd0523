/* Shared pieces of the Lua binding. Only the binding files include lua.h. */
#ifndef FTP_CORE_H
#define FTP_CORE_H

#include <lauxlib.h>
#include <lua.h>

#include "conn.h"
#include "net.h"
#include "tls.h"

#define TLS_MT "ftplib.TLSContext"

#define FTP_MT "ftplib.FTP"
#define DATA_MT "ftplib.Data"

/* Pushes what a non-blocking step returns to Lua for a status other than
 * FTP_OK: `false, "r"|"w"` for a wait, else `nil, message, code`. Returns the
 * number of values pushed. sys_err is the errno saved for FTP_ESYS. */
int ftp_push_status(lua_State *L, int status, int sys_err);
/* The same for a failure of connection c (its errno or TLS message). */
int ftp_push_conn_status(lua_State *L, int status, const ftp_conn *c);
/* nil, message, code */
int ftp_push_error(lua_State *L, const char *message, const char *code);
/* Reads a binary sockaddr made by core.resolve. */
void ftp_check_addr(lua_State *L, int arg, ftp_addr *a);
void ftp_push_addr(lua_State *L, const ftp_addr *a);

/* Creates a metatable whose __index looks in a method table (left on the
 * stack below the metatable) and then in the object's field table (user
 * value 1), and whose __newindex writes fields. Used by every object type so
 * that Lua code can add methods and keep per-object fields. */
void ftp_new_class(lua_State *L, const char *name, const luaL_Reg *methods,
                   const luaL_Reg *meta);
/* Pushes a new object of class name (size bytes, zeroed) with an empty
 * field table, and returns its memory for the caller to initialise. */
void *ftp_new_object(lua_State *L, size_t size, const char *name);

/* The objects behind the userdata, for the binding files that add methods. */
struct ftp_session;
struct ftp_data;
struct ftp_session *ftp_check_session(lua_State *L, int arg);
struct ftp_data *ftp_check_data(lua_State *L, int arg);

void ftp_open_ftp(lua_State *L);
void ftp_open_data(lua_State *L);
/* Adds the TLS steps to the FTP and Data method tables (module fields). */
void ftp_open_tls(lua_State *L);
/* core.iconv_open: character set converters for file names (core_iconv.c). */
void ftp_open_iconv(lua_State *L);
/* core.open_file, core.file_origin, core.errno: local files made without
 * following links (core_file.c). */
void ftp_open_file(lua_State *L);

#endif
