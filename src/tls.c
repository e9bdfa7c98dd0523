#include "tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static void last_error(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[200] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof reason);
    snprintf(err, errlen, "%s: %s", what, reason);
    ERR_clear_error();
}

static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
    ftp_tls_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (t == NULL)
        return 0;
    if (t->n_unused == FTP_TLS_SESSIONS) {
        SSL_SESSION_free(t->unused[0]);
        memmove(t->unused, t->unused + 1, sizeof t->unused[0] * (FTP_TLS_SESSIONS - 1));
        t->n_unused--;
    }
    t->unused[t->n_unused++] = session;
    return 1; /* we hold the reference now */
}

/* The session for a new data connection, or NULL before the first one. */
static SSL_SESSION *take_session(ftp_tls_ctx *t)
{
    if (t->n_unused > 0) {
        if (t->last_taken)
            SSL_SESSION_free(t->last_taken);
        t->last_taken = t->unused[--t->n_unused];
    }
    return t->last_taken;
}

static int load_trust(SSL_CTX *ctx, const ftp_tls_opts *o)
{
    if (o->cafile || o->capath)
        return SSL_CTX_load_verify_locations(ctx, o->cafile, o->capath);
    return SSL_CTX_set_default_verify_paths(ctx);
}

static int load_identity(SSL_CTX *ctx, const ftp_tls_opts *o)
{
    if (o->certfile == NULL)
        return 1;
    const char *key = o->keyfile ? o->keyfile : o->certfile;
    return SSL_CTX_use_certificate_chain_file(ctx, o->certfile) == 1 &&
           SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
           SSL_CTX_check_private_key(ctx) == 1;
}

static int configure(ftp_tls_ctx *t, const ftp_tls_opts *o, char *err, size_t errlen)
{
    SSL_CTX *ctx = t->ctx;
    SSL_CTX_set_app_data(ctx, t);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    SSL_CTX_set_verify(ctx, o->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (o->min_version && !SSL_CTX_set_min_proto_version(ctx, o->min_version))
        return last_error(err, errlen, "min_version"), -1;
    if (o->max_version && !SSL_CTX_set_max_proto_version(ctx, o->max_version))
        return last_error(err, errlen, "max_version"), -1;
    if (o->ciphers && !SSL_CTX_set_cipher_list(ctx, o->ciphers))
        return last_error(err, errlen, "ciphers"), -1;
    if (o->ciphersuites && !SSL_CTX_set_ciphersuites(ctx, o->ciphersuites))
        return last_error(err, errlen, "ciphersuites"), -1;
    if (o->verify && !load_trust(ctx, o))
        return last_error(err, errlen, "cannot load trusted certificates"), -1;
    if (!load_identity(ctx, o))
        return last_error(err, errlen, "cannot load client certificate"), -1;
    return 0;
}

int ftp_tls_ctx_init(ftp_tls_ctx *t, const ftp_tls_opts *o, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL)
        return last_error(err, errlen, "cannot create TLS context"), -1;
    if (configure(t, o, err, errlen) < 0) {
        ftp_tls_ctx_free(t);
        return -1;
    }
    return 0;
}

void ftp_tls_ctx_free(ftp_tls_ctx *t)
{
    if (t->ctx)
        SSL_CTX_set_app_data(t->ctx, NULL); /* connections may outlive us */
    for (int i = 0; i < t->n_unused; i++)
        SSL_SESSION_free(t->unused[i]);
    if (t->last_taken)
        SSL_SESSION_free(t->last_taken);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    t->n_unused = 0;
    t->last_taken = NULL;
    t->ctx = NULL;
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Names get SNI and a host name check; IP literals an IP check and no SNI
 * (RFC 6066 forbids literals there). */
static int set_peer_checks(SSL *ssl, const char *host, int verify)
{
    if (host == NULL || host[0] == '\0')
        return 1;
    if (is_ip_literal(host)) {
        if (!verify)
            return 1;
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    }
    if (!SSL_set_tlsext_host_name(ssl, host))
        return 0;
    return !verify || SSL_set1_host(ssl, host);
}

SSL *ftp_tls_new(ftp_tls_ctx *t, int fd, const char *host, int is_data,
                 char *err, size_t errlen)
{
    SSL *ssl = SSL_new(t->ctx);
    if (ssl == NULL)
        return last_error(err, errlen, "cannot create TLS connection"), NULL;
    int verify = SSL_CTX_get_verify_mode(t->ctx) != SSL_VERIFY_NONE;
    if (!SSL_set_fd(ssl, fd) || !set_peer_checks(ssl, host, verify)) {
        last_error(err, errlen, "cannot set up TLS connection");
        SSL_free(ssl);
        return NULL;
    }
    SSL_SESSION *session = is_data ? take_session(t) : NULL;
    if (session)
        SSL_set_session(ssl, session);
    if (is_data) {
        SSL_set_read_ahead(ssl, 1);
        SSL_set_default_read_buffer_len(ssl, FTP_TLS_READ_AHEAD);
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

void ftp_tls_error_text(SSL *ssl, int ret, char *err, size_t errlen)
{
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        snprintf(err, errlen, "certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
        ERR_clear_error();
        return;
    }
    if (ERR_peek_error()) {
        last_error(err, errlen, "TLS error");
        return;
    }
    snprintf(err, errlen, "TLS error (SSL_get_error %d)", SSL_get_error(ssl, ret));
}
