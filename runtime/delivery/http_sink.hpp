// The http://HOST:PORT/PATH delivery sink (see delivery_sink.hpp for the contract it keeps).
#pragma once

#include <memory>
#include <string>

#include "runtime/delivery/delivery_sink.hpp"

namespace journeyd {

// Never fails: an endpoint that is down now is retried until it answers.
std::unique_ptr<DeliverySink> make_http_sink(const std::string& host, int port,
                                             const std::string& path, const SinkOptions& options);

}  // namespace journeyd
