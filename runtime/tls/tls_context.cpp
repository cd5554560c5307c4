#include "runtime/tls/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace journeyd {
namespace {

// OpenSSL's reason for the last failure, e.g. "no such file" or "key values mismatch".
std::string last_tls_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "unknown error";
#ifdef ERR_SYSTEM_ERROR
    // OpenSSL 3 keeps errno for a file it could not open, with no reason string of its own.
    if (ERR_SYSTEM_ERROR(code)) return std::strerror(static_cast<int>(ERR_GET_REASON(code)));
#endif
    const char* reason = ERR_reason_error_string(code);
    return reason ? reason : "error " + std::to_string(code);
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_server_tls_context(const TlsSettings& settings,
                                                            const std::string& table) {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
    SSL_CTX* native = context->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(native, settings.cert.c_str()) != 1)
        throw std::runtime_error(table + " tls_cert \"" + settings.cert +
                                 "\": cannot use it: " + last_tls_error());
    // OpenSSL checks the key against the certificate as it loads it ("key values mismatch").
    if (SSL_CTX_use_PrivateKey_file(native, settings.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(native) != 1)
        throw std::runtime_error(table + " tls_key \"" + settings.key +
                                 "\" cannot be used with tls_cert \"" + settings.cert +
                                 "\": " + last_tls_error());
    return context;
}

std::string describe_certificate(asio::ssl::context& context) {
    X509* certificate = SSL_CTX_get0_certificate(context.native_handle());
    if (!certificate) return "no certificate";
    char common_name[256] = "";
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, common_name,
                                  sizeof common_name) < 0)
        std::snprintf(common_name, sizeof common_name, "(none)");
    std::tm expiry{};
    char expires[32] = "unknown";
    if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &expiry) == 1)
        std::strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &expiry);
    return std::string("CN=") + common_name + ", expires " + expires;
}

}  // namespace journeyd
