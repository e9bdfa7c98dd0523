/* The parts of the module ftplib.core: each binding file's function that adds
 * its functions, classes or methods to the module table on top of the stack.
 * Only core.c calls them; each core_*.c includes this for its own. */
#ifndef FTP_CORE_H
#define FTP_CORE_H

#include <lua.h>

/* resolve, wait, poll, now (core_net.c) */
void ftp_open_net(lua_State *L);
/* parse_pasv, parse_epsv, parse_quoted, parse_150 (core_reply.c) */
void ftp_open_reply(lua_State *L);
/* FTP_new, FTP_methods (core_ftp.c) */
void ftp_open_ftp(lua_State *L);
/* Data_new, Data_methods (core_data.c) */
void ftp_open_data(lua_State *L);
/* TLS_new, TLS_sessions and the TLS steps of FTP and Data: after the two
 * above, whose method tables it extends (core_tls.c). */
void ftp_open_tls(lua_State *L);
/* core.iconv_open: character set converters for file names (core_iconv.c). */
void ftp_open_iconv(lua_State *L);
/* core.open_file, core.file_origin, core.errno, core.sha256: local files made
 * without following links (core_file.c). */
void ftp_open_file(lua_State *L);
/* core.file_digest, core.file_digester: digests of local files, read in slices
 * (core_digest.c). */
void ftp_open_digest(lua_State *L);

#endif
