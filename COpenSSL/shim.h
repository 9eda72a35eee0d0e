/* OpenSSL 3 for Swift. Macros and variadic functions that Swift cannot import get static inline
   wrappers here; nothing else goes in this file. */
#ifndef FERRY_COPENSSL_SHIM_H
#define FERRY_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>

static inline int ferry_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

/* Partial writes (large buffers go out record by record without blocking), server-side session
   cache on, no renegotiation, no compression, our cipher order; a peer that
   closes without close_notify reads as an ordinary end (many FTP clients do after a transfer). */
static inline void ferry_ssl_ctx_harden(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE
                             | SSL_OP_IGNORE_UNEXPECTED_EOF);
}

/* A client that treats a peer's close without close_notify as the end of the stream (ftpbench: many
   FTP servers close data connections that way; the byte count, not the alert, says it was whole). */
static inline void ferry_ssl_ctx_ignore_unexpected_eof(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

/* A data connection tells a peer's close without close_notify from a clean end (an upload cut by a
   TCP FIN would otherwise pass as complete): SSL_read reports SSL_R_UNEXPECTED_EOF_WHILE_READING. */
static inline void ferry_ssl_expect_close_notify(SSL *ssl) {
    SSL_clear_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

/* Ask OpenSSL to hand record encryption to the kernel (kTLS) once the handshake ends, where the
   kernel, the negotiated cipher and the version allow it; elsewhere the connection is unchanged. */
static inline void ferry_ssl_enable_ktls(SSL *ssl) {
    SSL_set_options(ssl, SSL_OP_ENABLE_KTLS);
}

/* True when the kernel encrypts what is written to this connection (so SSL_sendfile works). */
static inline int ferry_ssl_kernel_sends(SSL *ssl) {
    return BIO_get_ktls_send(SSL_get_wbio(ssl));
}

static inline EVP_PKEY *ferry_generate_p256_key(void) {
    return EVP_EC_gen("P-256");
}

static inline int ferry_tls1_2_version(void) { return TLS1_2_VERSION; }
static inline int ferry_tls1_3_version(void) { return TLS1_3_VERSION; }
#endif
