#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "siteloc_crypto.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The low-level SHA-256 context is a plain struct; ours has the same layout, checked here at compile time.
_Static_assert(sizeof(siteloc_sha256_state) == sizeof(SHA256_CTX), "siteloc_sha256_state must match SHA256_CTX");

void siteloc_sha256_init(siteloc_sha256_state *state) { SHA256_Init((SHA256_CTX *)state); }

void siteloc_sha256_update(siteloc_sha256_state *state, const void *bytes, size_t count) {
    SHA256_Update((SHA256_CTX *)state, bytes, count);
}

void siteloc_sha256_final(siteloc_sha256_state *state, uint8_t digest[32]) {
    SHA256_Final(digest, (SHA256_CTX *)state);
}

int siteloc_random_bytes(uint8_t *bytes, size_t count) {
    return count <= 0x7fffffff && RAND_bytes(bytes, (int)count) == 1;
}

int siteloc_ed25519_public_key(const uint8_t seed[32], uint8_t public_key[32]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (key == NULL) return 0;
    size_t length = 32;
    int ok = EVP_PKEY_get_raw_public_key(key, public_key, &length) == 1 && length == 32;
    EVP_PKEY_free(key);
    return ok;
}

int siteloc_ed25519_sign(const uint8_t seed[32], const uint8_t *message, size_t count, uint8_t signature[64]) {
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    size_t length = 64;
    int ok = key != NULL && context != NULL && EVP_DigestSignInit(context, NULL, NULL, NULL, key) == 1
        && EVP_DigestSign(context, signature, &length, message, count) == 1 && length == 64;
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(key);
    return ok;
}

int siteloc_ed25519_verify(
    const uint8_t public_key[32], const uint8_t *message, size_t count, const uint8_t *signature,
    size_t signature_count) {
    if (signature_count != 64) return 0;
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, 32);
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    int ok = key != NULL && context != NULL && EVP_DigestVerifyInit(context, NULL, NULL, NULL, key) == 1
        && EVP_DigestVerify(context, signature, signature_count, message, count) == 1;
    EVP_MD_CTX_free(context);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ok;
}

void siteloc_crypto_free(void *pointer) { free(pointer); }

static void fail(char *error, size_t capacity, const char *what) {
    if (error == NULL || capacity == 0) return;
    unsigned long code = ERR_get_error();
    char reason[256] = "";
    if (code != 0) ERR_error_string_n(code, reason, sizeof reason);
    snprintf(error, capacity, "%s%s%s", what, code != 0 ? ": " : "", reason);
    ERR_clear_error();
}

static char *pem_string(BIO *bio) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    if (length <= 0) return NULL;
    char *copy = malloc((size_t)length + 1);
    if (copy == NULL) return NULL;
    memcpy(copy, data, (size_t)length);
    copy[length] = 0;
    return copy;
}

static int add_extension(X509 *certificate, X509V3_CTX *context, int nid, const char *value) {
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, context, nid, value);
    if (extension == NULL) return 0;
    int ok = X509_add_ext(certificate, extension, -1) == 1;
    X509_EXTENSION_free(extension);
    return ok;
}

static int add_alternative_names(
    X509 *certificate, const char *const *dns_names, size_t dns_count, const uint8_t *ipv4, size_t ip_count) {
    if (dns_count == 0 && ip_count == 0) return 1;
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    int ok = names != NULL;
    for (size_t index = 0; ok && index < dns_count; index++) {
        GENERAL_NAME *name = GENERAL_NAME_new();
        ASN1_IA5STRING *text = ASN1_IA5STRING_new();
        ok = name != NULL && text != NULL && ASN1_STRING_set(text, dns_names[index], -1) == 1;
        if (ok) {
            GENERAL_NAME_set0_value(name, GEN_DNS, text);
            ok = sk_GENERAL_NAME_push(names, name) > 0;
            if (!ok) GENERAL_NAME_free(name);
        } else {
            ASN1_IA5STRING_free(text);
            GENERAL_NAME_free(name);
        }
    }
    for (size_t index = 0; ok && index < ip_count; index++) {
        GENERAL_NAME *name = GENERAL_NAME_new();
        ASN1_OCTET_STRING *address = ASN1_OCTET_STRING_new();
        ok = name != NULL && address != NULL && ASN1_OCTET_STRING_set(address, ipv4 + 4 * index, 4) == 1;
        if (ok) {
            GENERAL_NAME_set0_value(name, GEN_IPADD, address);
            ok = sk_GENERAL_NAME_push(names, name) > 0;
            if (!ok) GENERAL_NAME_free(name);
        } else {
            ASN1_OCTET_STRING_free(address);
            GENERAL_NAME_free(name);
        }
    }
    ok = ok && X509_add1_ext_i2d(certificate, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(names);
    return ok;
}

int siteloc_issue_certificate(
    const char *authority_certificate_pem, const char *authority_private_key_pem,
    const char *common_name, const char *organization, enum siteloc_certificate_usage usage,
    const char *const *dns_names, size_t dns_name_count, const uint8_t *ipv4_addresses, size_t ipv4_address_count,
    long not_before_offset_seconds, long valid_seconds,
    char **certificate_pem, char **private_key_pem, char *error, size_t error_capacity) {
    int ok = 0;
    X509 *authority = NULL, *certificate = NULL;
    EVP_PKEY *authority_key = NULL, *key = NULL;
    BIO *bio = NULL, *certificate_bio = NULL, *key_bio = NULL;
    BIGNUM *serial = NULL;
    *certificate_pem = NULL;
    *private_key_pem = NULL;

    if (authority_certificate_pem != NULL) {
        bio = BIO_new_mem_buf(authority_certificate_pem, -1);
        authority = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        bio = BIO_new_mem_buf(authority_private_key_pem, -1);
        authority_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (authority == NULL || authority_key == NULL) {
            fail(error, error_capacity, "the authority's certificate or key cannot be read");
            goto done;
        }
    }
    key = EVP_EC_gen("P-256");
    certificate = X509_new();
    serial = BN_new();
    if (key == NULL || certificate == NULL || serial == NULL) {
        fail(error, error_capacity, "cannot make a P-256 key");
        goto done;
    }
    X509_NAME *subject = X509_get_subject_name(certificate);
    if (X509_set_version(certificate, 2) != 1 || BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1
        || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) == NULL
        || X509_gmtime_adj(X509_getm_notBefore(certificate), not_before_offset_seconds) == NULL
        || X509_gmtime_adj(X509_getm_notAfter(certificate), valid_seconds) == NULL
        || X509_set_pubkey(certificate, key) != 1
        || (organization != NULL
            && X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8, (const unsigned char *)organization, -1, -1, 0)
                != 1)
        || X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0)
            != 1
        || X509_set_issuer_name(certificate, authority ? X509_get_subject_name(authority) : subject) != 1) {
        fail(error, error_capacity, "cannot fill in the certificate");
        goto done;
    }
    X509V3_CTX context;
    X509V3_set_ctx(&context, authority ? authority : certificate, certificate, NULL, NULL, 0);
    int extensions = usage == SITELOC_CERTIFICATE_AUTHORITY
        ? add_extension(certificate, &context, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")
            && add_extension(certificate, &context, NID_key_usage, "critical,keyCertSign,cRLSign")
        : add_extension(certificate, &context, NID_basic_constraints, "critical,CA:FALSE")
            && add_extension(certificate, &context, NID_key_usage, "critical,digitalSignature")
            && add_extension(certificate, &context, NID_ext_key_usage,
                usage == SITELOC_CERTIFICATE_SERVER ? "serverAuth" : "clientAuth")
            && add_alternative_names(certificate, dns_names, dns_name_count, ipv4_addresses, ipv4_address_count);
    if (!extensions || X509_sign(certificate, authority_key ? authority_key : key, EVP_sha256()) <= 0) {
        fail(error, error_capacity, "cannot sign the certificate");
        goto done;
    }
    certificate_bio = BIO_new(BIO_s_mem());
    key_bio = BIO_new(BIO_s_mem());
    if (certificate_bio == NULL || key_bio == NULL || PEM_write_bio_X509(certificate_bio, certificate) != 1
        || PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL) != 1) {
        fail(error, error_capacity, "cannot write the certificate as PEM");
        goto done;
    }
    *certificate_pem = pem_string(certificate_bio);
    *private_key_pem = pem_string(key_bio);
    if (*certificate_pem == NULL || *private_key_pem == NULL) {
        fail(error, error_capacity, "out of memory");
        free(*certificate_pem);
        free(*private_key_pem);
        *certificate_pem = NULL;
        *private_key_pem = NULL;
        goto done;
    }
    ok = 1;
done:
    BIO_free(certificate_bio);
    BIO_free(key_bio);
    BN_free(serial);
    X509_free(certificate);
    X509_free(authority);
    EVP_PKEY_free(key);
    EVP_PKEY_free(authority_key);
    return ok;
}
