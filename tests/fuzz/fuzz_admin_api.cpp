// libFuzzer harness: sequences of admin HTTP requests handled by AdminApi (the admin port's
// routing, token check, JSON bodies, event validation and configuration checks) over an
// in-memory backend that runs the real journey engine of the embedded default journey, so
// posted events create customers that later requests of the same input read back.
//
// Input: requests separated by NUL bytes; each is "METHOD TARGET\nAUTHORIZATION\nBODY"
// (the seeds in corpus/admin_api/ show it). The API's token is "t0k".
//
// Checks beyond "no crash": handle() never throws; every status is one the API documents
// (a 500 would mean a record the backend encoded did not decode); every JSON answer parses
// as JSON, which includes being valid UTF-8, and every error answer has an "error" string.
#include <nlohmann/json.hpp>
#include <set>

#include "config/config.hpp"
#include "config/config_version.hpp"
#include "fuzz_check.hpp"
#include "runtime/admin/admin_api.hpp"
#include "tests/support/memory_admin_backend.hpp"

using namespace journeyd;

namespace {

constexpr TimeMs kNow = 1'700'000'000'000;

const Config& config() {
    static const Config instance = *load_default_config().config;
    return instance;
}

AdminRequest parse_request(std::string_view text) {
    AdminRequest request;
    const size_t first_line = std::min(text.find('\n'), text.size());
    const std::string_view start = text.substr(0, first_line);
    const size_t space = std::min(start.find(' '), start.size());
    request.method = std::string(start.substr(0, space));
    request.target = std::string(start.substr(std::min(space + 1, start.size())));
    text.remove_prefix(std::min(first_line + 1, text.size()));
    const size_t second_line = std::min(text.find('\n'), text.size());
    request.authorization = std::string(text.substr(0, second_line));
    text.remove_prefix(std::min(second_line + 1, text.size()));
    request.body = std::string(text);
    return request;
}

void check_response(const AdminResponse& response) {
    static const std::set<int> documented = {200, 202, 400, 401, 404, 405, 501, 503};
    FUZZ_CHECK(documented.count(response.status) == 1);
    FUZZ_CHECK(!response.content_type.empty());
    if (response.content_type != "application/json") return;
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    FUZZ_CHECK(!body.is_discarded());
    if (response.status >= 400) FUZZ_CHECK(body.contains("error") && body["error"].is_string());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const auto engine = std::make_shared<const JourneyEngine>(config().journey);
    AdminApiSetup setup;
    setup.node_name = "fuzz";
    setup.token = "t0k";
    setup.metrics = std::make_shared<Metrics>();
    setup.now = [] { return kNow; };
    const std::string text(default_config_text());
    setup.configs = starting_configs(
        RunningConfig{"<default>", text, config_version(text), kNow, config()}, engine, nullptr);
    const AdminApi api(std::move(setup), std::make_unique<test::MemoryAdminBackend>(engine, kNow));

    std::string_view input(reinterpret_cast<const char*>(data), size);
    while (!input.empty()) {
        const size_t end = std::min(input.find('\0'), input.size());
        check_response(api.handle(parse_request(input.substr(0, end))));
        input.remove_prefix(std::min(end + 1, input.size()));
    }
    return 0;
}
