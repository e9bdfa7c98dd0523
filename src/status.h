/* Outcomes shared by every non-blocking step of the core. A step either does
 * its work (FTP_OK), says what it waits for, or fails for good. */
#ifndef FTP_STATUS_H
#define FTP_STATUS_H

enum ftp_status {
    FTP_OK = 0,
    FTP_WANT_READ = 1,
    FTP_WANT_WRITE = 2,
    FTP_MORE = 3,     /* ready for more, but this step's share is spent */
    FTP_PAUSE = 4,    /* the rate limit: wait before the next step (data.h) */
    FTP_CLOSED = -1,  /* the peer closed the connection */
    FTP_EPROTO = -2,  /* the peer sent something that is not FTP */
    FTP_ELIMIT = -3,  /* a size limit was hit */
    FTP_ESYS = -4,    /* a system call failed: see the saved errno */
    FTP_ETLS = -5,    /* a TLS failure: see the saved message */
    FTP_ENOMEM = -6,
    FTP_EIO = -7      /* a local file failed: see the saved errno */
};

#endif
