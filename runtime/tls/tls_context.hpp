// The server side of TLS for the ingest and admin ports ([ingest] / [admin] tls_cert and
// tls_key, docs/configuration.md): one OpenSSL context per port, made once at start.
//
// Contract: make_server_tls_context reads the PEM certificate chain and the private key,
// checks that they belong together, and allows TLS 1.2 and later only. Any failure throws
// std::runtime_error naming the port's table, the file and OpenSSL's reason, so journeyd
// stops at start instead of failing every handshake later.
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

}  // namespace journeyd
