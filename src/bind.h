/* The helpers every binding file shares: the error conventions, addresses as
 * Lua strings, classes with per-object field tables, and the checks that turn
 * a Lua argument into the object behind it. A leaf: it knows no binding file,
 * so each core_*.c includes it and nothing includes back. */
#ifndef FTP_BIND_H
#define FTP_BIND_H

#include <lauxlib.h>
#include <lua.h>

#include "conn.h"
#include "net.h"

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
/* A local file's failure: nil, "path: strerror(err)", "io", err. */
int ftp_push_file_error(lua_State *L, const char *path, int err);
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

/* The objects behind the userdata: an FTP object is an ftp_session, a Data
 * object an ftp_data (both made with ftp_new_object). */
struct ftp_session;
struct ftp_data;
struct ftp_session *ftp_check_session(lua_State *L, int arg);
struct ftp_data *ftp_check_data(lua_State *L, int arg);

#endif
