// What an endpoint's answer means for a delivery (docs/protocol.md "Delivery"):
// - 2xx: delivered.
// - 400, 401, 403, 404, 410, 413 and 422, or any other failure whose answer carries the header
//   `Journeyd-Failure: permanent`: refused for good. Sending the same body again cannot
//   succeed, so the send is parked as a dead letter and the lane goes on.
// - Anything else (5xx, 429, 408, other 4xx), and no answer at all: tried again, after the
//   sink's backoff or, when the answer has a Retry-After header (delta-seconds or an HTTP
//   date), after that long, at most `retry_after_max`.
// Pure functions: no I/O, thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace journeyd {

struct AnswerVerdict {
    enum class Kind { delivered, retry, dead };
    Kind kind = Kind::retry;
    std::optional<std::chrono::milliseconds> retry_after;  // with retry, when the answer said
};

// `retry_after` and `failure` are the headers' values, empty when absent.
AnswerVerdict judge_answer(int status, const std::string& retry_after, const std::string& failure,
                           std::chrono::system_clock::time_point now,
                           std::chrono::milliseconds retry_after_max);

// A Retry-After value: delta-seconds ("120") or an IMF-fixdate ("Wed, 21 Oct 2026 07:28:00
// GMT"); none when unreadable. A date in the past is zero.
std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now);

}  // namespace journeyd
