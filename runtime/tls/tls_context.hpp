// The server side of TLS for the ingest and admin ports ([ingest] / [admin] tls_cert and
// tls_key, docs/configuration.md): one OpenSSL context per port, made once at start.
//
// Contract: make_server_tls_context reads the PEM certificate chain and the private key,
// checks that they belong together, and allows TLS 1.2 and later only. Any failure throws
// std::runtime_error naming the port's table, the file and OpenSSL's reason, so journeyd
// stops at start instead of failing every handshake later. describe_certificate says which
// certificate a context serves, for the log line at start.
// Thread-safety: the context is immutable once made; OpenSSL lets many connections (threads)
// use it at once.
#pragma once

#include <asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace journeyd {

std::shared_ptr<asio::ssl::context> make_server_tls_context(const TlsSettings& settings,
                                                            const std::string& table);

// "CN=NAME, expires YYYY-MM-DDTHH:MM:SSZ" of the context's leaf certificate, so that an
// operator sees at start which file a restart picked up and when it must be renewed.
std::string describe_certificate(asio::ssl::context& context);

}  // namespace journeyd
