#include "runtime/delivery/http_answer.hpp"

#include <time.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace journeyd {
namespace {

constexpr std::array<int, 7> kPermanentStatuses = {400, 401, 403, 404, 410, 413, 422};

bool says_permanent(const std::string& failure) {
    std::string lower = failure;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower == "permanent";
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(
    const std::string& value, std::chrono::system_clock::time_point now) {
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(),
                    [](unsigned char c) { return std::isdigit(c) != 0; })) {
        if (value.size() > 9) return std::nullopt;  // beyond any sane wait; avoids overflow
        return std::chrono::seconds(std::stol(value));
    }
    std::tm parts{};
    const char* end = ::strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    if (end == nullptr || *end != '\0') return std::nullopt;
    const auto at = std::chrono::system_clock::from_time_t(::timegm(&parts));
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(at - now));
}

AnswerVerdict judge_answer(int status, const std::string& retry_after, const std::string& failure,
                           std::chrono::system_clock::time_point now,
                           std::chrono::milliseconds retry_after_max) {
    if (status >= 200 && status < 300) return {AnswerVerdict::Kind::delivered, std::nullopt};
    const bool permanent = std::find(kPermanentStatuses.begin(), kPermanentStatuses.end(),
                                     status) != kPermanentStatuses.end();
    if (permanent || says_permanent(failure)) return {AnswerVerdict::Kind::dead, std::nullopt};
    std::optional<std::chrono::milliseconds> wait = parse_retry_after(retry_after, now);
    if (wait) wait = std::min(*wait, retry_after_max);
    return {AnswerVerdict::Kind::retry, wait};
}

}  // namespace journeyd
