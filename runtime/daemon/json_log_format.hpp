// `--log-format json`: one JSON object a line, {"ts", "level", "msg"}, with the message
// escaped so that customer ids and error texts holding quotes or control bytes cannot
// break a log shipper's parser.
#pragma once

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

namespace journeyd {

// Thread-safety: stateless; spdlog calls format() from every thread that logs.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& message, const std::tm&,
                spdlog::memory_buf_t& out) override {
        for (char c : std::string_view(message.payload.data(), message.payload.size())) {
            switch (c) {
                case '"':
                    out.append(std::string_view("\\\""));
                    break;
                case '\\':
                    out.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    out.append(std::string_view("\\n"));
                    break;
                case '\t':
                    out.append(std::string_view("\\t"));
                    break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        char escaped[7];
                        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                        out.append(std::string_view(escaped, 6));
                    } else {
                        out.push_back(c);
                    }
            }
        }
    }

    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonEscapedMessage>();
    }
};

inline void use_json_log_format() {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
}

}  // namespace journeyd
