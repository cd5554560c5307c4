// The file:PATH delivery sink (see delivery_sink.hpp for the contract it keeps).
#pragma once

#include <memory>
#include <string>

#include "runtime/delivery/delivery_sink.hpp"

namespace journeyd {

// nullptr and `error` set when `path` cannot be opened for appending.
std::unique_ptr<DeliverySink> open_file_sink(const std::string& path, const SinkOptions& options,
                                             std::string& error);

}  // namespace journeyd
