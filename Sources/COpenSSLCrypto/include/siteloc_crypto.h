// What siteloc asks of the system's OpenSSL (libcrypto): SHA-256, Ed25519 and the lab's X.509 certificates.
// Plain C types only, so that the Swift wrapper (SystemCrypto) is the one place that sees them.
#ifndef SITELOC_CRYPTO_H
#define SITELOC_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

// A SHA-256 state held by value: copying it forks the computation, as a Swift value type expects.
typedef struct {
    uint32_t h[8];
    uint32_t Nl, Nh;
    uint32_t data[16];
    unsigned int num, md_len;
} siteloc_sha256_state;

void siteloc_sha256_init(siteloc_sha256_state *state);
void siteloc_sha256_update(siteloc_sha256_state *state, const void *bytes, size_t count);
void siteloc_sha256_final(siteloc_sha256_state *state, uint8_t digest[32]);

// Fills `bytes` from the system's random generator; 1 on success.
int siteloc_random_bytes(uint8_t *bytes, size_t count);

// Ed25519 with 32-byte private seeds and public keys (RFC 8032); 1 on success, 0 otherwise.
int siteloc_ed25519_public_key(const uint8_t seed[32], uint8_t public_key[32]);
int siteloc_ed25519_sign(const uint8_t seed[32], const uint8_t *message, size_t count, uint8_t signature[64]);
int siteloc_ed25519_verify(
    const uint8_t public_key[32], const uint8_t *message, size_t count, const uint8_t *signature, size_t signature_count);

enum siteloc_certificate_usage {
    SITELOC_CERTIFICATE_AUTHORITY = 0,
    SITELOC_CERTIFICATE_SERVER = 1,
    SITELOC_CERTIFICATE_CLIENT = 2,
};

// Issues a certificate for a new P-256 key, signed with ECDSA-SHA256 by the authority (its certificate and key in
// PEM), or self-signed when `authority_certificate_pem` is NULL. `dns_names` and `ipv4_addresses` (4 bytes each) are
// the subject alternative names. On success returns 1 and sets `certificate_pem` and `private_key_pem` (PKCS#8) to
// strings the caller frees with siteloc_crypto_free; on failure returns 0 and writes the reason into `error`.
int siteloc_issue_certificate(
    const char *authority_certificate_pem, const char *authority_private_key_pem,
    const char *common_name, const char *organization, enum siteloc_certificate_usage usage,
    const char *const *dns_names, size_t dns_name_count, const uint8_t *ipv4_addresses, size_t ipv4_address_count,
    long not_before_offset_seconds, long valid_seconds,
    char **certificate_pem, char **private_key_pem, char *error, size_t error_capacity);

void siteloc_crypto_free(void *pointer);

#endif
