// The operator console in a real browser: headless Chromium loads GET / from the real
// journeyd (with a token), and the page's own script looks a customer up. The test reads
// the DOM Chromium dumps after the script ran, so it fails when the lookup script is broken,
// and it saves a screenshot (console.png in the working directory) for a person to look at.
//
// Chromium is required: scripts/deps.sh installs Debian's package. JOURNEYD_CHROMIUM names
// another binary.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "runtime/client/ingest_client.hpp"
#include "tests/support/daemon_process.hpp"
#include "tests/support/poll.hpp"

using namespace journeyd;
using namespace std::chrono_literals;
using nlohmann::json;
using test::DaemonProcess;
using test::poll_until;

namespace {

constexpr const char* kToken = "console-s3cret";

// welcome, seller_tips and loyalty_thanks by e-mail, e-mail capped at one a week: a
// customer who becomes loyal has a send and a cap suppression to show.
const char* kConfig = R"(
[admin]
token = "console-s3cret"

[journey]
stages = ["new", "exploring", "active", "loyal", "dormant"]
initial_stage = "new"

[[journey.transition]]
from = ["new", "dormant"]
on = ["search", "view"]
to = "exploring"

[[journey.transition]]
from = ["new", "exploring", "dormant"]
on = "ad_placed"
to = "active"

[[journey.transition]]
from = ["active"]
on = ["ad_placed", "sale"]
count = 3
within = "30d"
to = "loyal"

[[journey.timer]]
name = "lapse"
in = ["exploring", "active", "loyal"]
after = "30d"
to = "dormant"

[[journey.driver]]
from = "exploring"
to = "active"
window = "7d"

[[journey.driver]]
from = "active"
to = "loyal"
window = "30d"

[[program]]
name = "welcome"
on_enter = "new"
channel = "email"
priority = "lifecycle"
template = "welcome-1"
goal = { event = "search", within = "7d" }

[[program]]
name = "seller_tips"
on_enter = "active"
channel = "email"
priority = "lifecycle"
template = "tips-1"

[[program]]
name = "loyalty_thanks"
on_enter = "loyal"
channel = "in_app"
priority = "lifecycle"
template = "thanks-1"

[pressure]
hierarchy = ["service", "lifecycle"]
arbitration_window = "0s"

[[pressure.cap]]
channel = "email"
max = 1
per = "7d"

[[segment]]
name = "sellers"
when = [ { event = "ad_placed", min = 1, within = "30d" } ]

[[action]]
name = "sell_more"
channel = "in_app"
priority = "lifecycle"
template = "sell-more-1"
goal = { event = "ad_placed", within = "7d" }

[[program]]
name = "nba"
on_event = "sale"
action = "best"

[rhythm]
engagement = ["signup", "search", "ad_placed", "sale"]
)";

std::string find_chromium() {
    if (const char* named = std::getenv("JOURNEYD_CHROMIUM")) return named;
    for (const char* name : {"chromium", "chromium-browser"}) {
        const std::string path = std::string("/usr/bin/") + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return "";
}

struct Browser {
    Browser() : binary(find_chromium()) {
        char directory[] = "/tmp/journeyd-console-XXXXXX";
        REQUIRE(::mkdtemp(directory));
        profile = directory;
    }
    ~Browser() { std::system(("rm -rf '" + profile + "'").c_str()); }

    // Loads `url`, lets its scripts run for a few seconds of virtual time, and returns
    // what Chromium printed (the DOM with --dump-dom).
    std::string run(const std::string& action, const std::string& url) {
        const std::string command = "timeout 90 '" + binary +
                                    "' --headless --no-sandbox --disable-gpu --no-first-run "
                                    "--disable-background-networking --user-data-dir='" +
                                    profile +
                                    "' --window-size=1280,2150 --virtual-time-budget=6000 " +
                                    action + " '" + url + "' 2>>'" + profile + "/stderr.log'";
        FILE* pipe = ::popen(command.c_str(), "r");
        REQUIRE(pipe);
        std::string output;
        char buffer[65536];
        for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
            output.append(buffer, n);
        const int status = ::pclose(pipe);
        INFO(command);
        INFO(std::ifstream(profile + "/stderr.log").rdbuf());
        REQUIRE(WIFEXITED(status));
        REQUIRE(WEXITSTATUS(status) == 0);
        return output;
    }

    std::string binary;
    std::string profile;
};

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("console: the page looks a customer up with the token from the fragment") {
    Browser browser;
    INFO("chromium is missing: scripts/deps.sh installs Debian's chromium package");
    REQUIRE_FALSE(browser.binary.empty());

    DaemonProcess daemon(kConfig);
    IngestClient client = IngestClient::connect(daemon.ingest(), 10s);
    std::vector<json> events;
    // Event times a few days apart, so the journey view has stays to show.
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    constexpr int64_t kDay = 86'400'000;
    for (const char* type : {"signup", "search", "ad_placed", "sale", "ad_placed"})
        events.push_back({{"id", std::string("ann-") + type + std::to_string(events.size())},
                          {"customer", "ann"},
                          {"type", type},
                          {"ts", now - static_cast<int64_t>(10 - 2 * events.size()) * kDay}});
    events.push_back({{"id", "ann-profile"},
                      {"customer", "ann"},
                      {"type", "profile"},
                      {"attrs", {{"tz", "Europe/Amsterdam"}, {"name", "<b>Ann</b>"}}}});
    client.send_frame(encode_batch(events));
    REQUIRE(client.read_response()["accepted"] == events.size());
    // bob browses, favorites a listing and places an ad: a driver to show; cy only browses.
    std::vector<json> others;
    for (const char* type : {"signup", "view", "favorite", "ad_placed"})
        others.push_back({{"id", std::string("bob-") + type},
                          {"customer", "bob"},
                          {"type", type},
                          {"ts", now - static_cast<int64_t>(4 - others.size()) * kDay / 2}});
    others.push_back({{"id", "cy-view"}, {"customer", "cy"}, {"type", "view"}});
    // Ann signs in on her phone: its id becomes an alias of hers.
    others.push_back({{"id", "phone-identify"},
                      {"customer", "ann-phone"},
                      {"type", "identify"},
                      {"attrs", {{"as", "ann"}}}});
    client.send_frame(encode_batch(others));
    REQUIRE(client.read_response()["accepted"] == others.size());
    const httplib::Headers auth{{"Authorization", std::string("Bearer ") + kToken}};
    auto decided = [&](const std::string& customer, size_t count) {
        auto decisions = daemon.admin().Get("/customers/" + customer + "/decisions", auth);
        return decisions && decisions->status == 200 &&
               json::parse(decisions->body).size() == count;
    };
    // bob: welcome sent, seller_tips suppressed by the cap; cy: welcome.
    REQUIRE(poll_until([&] { return decided("ann", 4) && decided("bob", 2) && decided("cy", 1); }));

    const std::string base = "http://" + daemon.admin_address() + "/";
    const std::string dom = browser.run("--dump-dom", base + "#token=" + kToken + "&customer=ann");
    INFO(dom);
    // Filled by the lookup script, and shown.
    CHECK(contains(dom, R"(id="customer-stage">loyal</span>)"));
    CHECK(contains(dom, R"(id="customer-id">ann</strong>)"));
    CHECK(contains(dom, R"(<div id="customer">)"));
    CHECK(contains(dom, "<td>lapse</td>"));
    CHECK(contains(dom, R"(<td class="outcome-suppress">suppress</td><td>cap</td>)"));
    CHECK(contains(dom, "<td>loyalty_thanks</td><td></td><td>in_app</td>"));
    // Next best actions: the decision names its action; the catalogue and the customer's
    // ranking are drawn from /actions and /customers/ann/actions.
    CHECK(contains(dom, "<td>nba</td><td>sell_more</td><td>in_app</td>"));
    CHECK(contains(dom, R"(<section class="wide" id="actions">)"));
    CHECK(contains(dom, "<td>sell_more</td><td>in_app</td><td>1</td><td>1</td>"));
    CHECK(contains(dom, "<td>sell_more</td><td>yes</td><td>50.0%</td>"));
    CHECK(contains(dom, "&lt;b&gt;Ann&lt;/b&gt;"));  // profile text stays text
    // Drawn from /stats.
    CHECK(contains(dom, R"(data-label="loyal" data-value="1")"));
    CHECK(contains(dom, R"(data-label="suppress" data-value="2")"));
    // Drawn from /segments, and the customer's own.
    CHECK(contains(dom, R"(data-label="sellers" data-value="2")"));
    CHECK(contains(dom, R"(id="customer-segments">sellers</span>)"));
    CHECK(contains(dom, R"(<section class="wide" id="programs">)"));
    // Welcome was sent to all three (their windows still open: each one's search or view came
    // in the same frame, before the send); seller_tips was capped.
    CHECK(contains(dom, "<td>welcome</td><td>3</td><td>3</td><td>0</td><td>–</td>"));
    CHECK(contains(dom, "<td>0 / 0, 3 open</td>"));
    CHECK(contains(dom, "<td>seller_tips</td><td>2</td><td>0</td><td>0</td><td>cap 2</td>"));
    CHECK(contains(dom, R"(id="customer-holdout">none</span>)"));
    CHECK(contains(dom, R"(id="customer-aliases">ann-phone</span>)"));
    // Her rhythm: five engagement events at one hour of the day, over ten days.
    CHECK(contains(dom, R"(<div id="customer-rhythm-block">)"));
    CHECK(contains(dom, R"(class="rhythm-bar best")"));
    CHECK(contains(dom, "engagement events, decayed · local time in Europe/Amsterdam"));
    CHECK(contains(dom, R"(<section id="token-form" hidden="">)"));
    // The journey view, from /journey: stages with their customers, transitions as arcs.
    CHECK(contains(dom, R"(data-stage="loyal" data-customers="1")"));
    CHECK(contains(dom, R"(data-stage="exploring" data-customers="1")"));
    CHECK(contains(dom, R"(data-from="new" data-to="exploring" data-count="3")"));
    CHECK(contains(dom, R"(data-from="active" data-to="loyal" data-count="1")"));
    // The drivers of each declared pair, from /journey/drivers.
    CHECK(contains(dom, R"(<section class="wide" id="drivers">)"));
    CHECK(contains(dom, "exploring → active within 7d"));
    CHECK(contains(dom, "<td>favorite</td><td>1 / 1</td><td>1 / 1</td>"));
    CHECK(contains(dom, "active → loyal within 30d"));
    CHECK(contains(dom, "<td>sale</td><td>1 / 1</td>"));
    // A single node: /cluster answered, and its section stays hidden.
    CHECK(contains(dom, R"(<section class="wide" id="cluster" hidden="">)"));

    // The same page with a wrong token: the token form, and no customer.
    const std::string refused = browser.run("--dump-dom", base + "#token=wrong&customer=ann");
    INFO(refused);
    CHECK(contains(refused, R"(<section id="token-form">)"));
    CHECK(contains(refused, R"(id="customer-stage"></span>)"));

    // A picture for a person (the README's docs/console.png is one of these).
    const std::string picture = (std::filesystem::current_path() / "console.png").string();
    std::filesystem::remove(picture);
    browser.run("--screenshot=" + picture, base + "#token=" + kToken + "&customer=ann");
    CHECK(std::filesystem::file_size(picture) > 10'000);
}
