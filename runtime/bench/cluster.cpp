// `cluster`: journeyd as a cluster of N nodes on this machine, for each N of --nodes in turn,
// driven at its peak by the ingest mode's marketplace workload.
//
// For each N: N journeyd children, each with its own scratch and data directory, the
// middleman ports reserved (runtime/bench/loopback_ports.hpp) before any configuration is
// written (N = 1: a plain single node, no [cluster]); then a wait until every node's /cluster
// counts all N members up; then --seconds of load over the same --connections whatever N is,
// connection c on node c % N.
// A client sends events for any customer to its own node, which forwards those it does not
// own to their owner: the share so sent is computed with the ownership rule the nodes apply
// (ClusterOwnership over the members' names) and checked against the nodes' own counts.
// For N > 1 an "owner-aware" run follows, in which each connection draws only customers its
// node owns, so nothing is forwarded: the difference between the two is the cost of
// forwarding. Every run starts its own nodes on empty stores, so none finds customers an
// earlier run left live. Throughput is also given as a ratio to N = 1's run.
#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime/bench/admin.hpp"
#include "runtime/bench/config.hpp"
#include "runtime/bench/daemon.hpp"
#include "runtime/bench/loopback_ports.hpp"
#include "runtime/bench/modes.hpp"
#include "runtime/bench/population.hpp"
#include "runtime/bench/process_stats.hpp"
#include "runtime/bench/wait.hpp"
#include "runtime/bench/workload.hpp"
#include "state/cluster/cluster_ownership.hpp"

namespace journeyd::bench {
namespace {

// Generous: nodes start one after the other, and a member that found a peer down retries
// after 100 ms, doubling up to 5 s.
constexpr auto kFormDeadline = std::chrono::seconds(60);
// Peers publish their forwarded counts to /cluster with each heartbeat (every second).
constexpr auto kCountsDeadline = std::chrono::seconds(10);

// The member owning each customer rank of the population, by the rule the nodes apply.
using Owners = std::vector<uint32_t>;

struct Cluster {
    std::vector<std::unique_ptr<DaemonChild>> nodes;  // destroyed: stopped
    std::vector<AdminClient> admins;
    std::shared_ptr<const Owners> owners;
    double formed_s = 0;  // from the first exec until every node saw all members up
};

std::shared_ptr<const Owners> owners_by_rank(size_t customers, size_t n) {
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) names.push_back(cluster_member_name(i));
    const ClusterOwnership ownership(names, names.front());
    auto owners = std::make_shared<Owners>(customers);
    for (size_t rank = 0; rank < customers; ++rank)
        (*owners)[rank] = static_cast<uint32_t>(ownership.owner_of(customer_id(rank)));
    return owners;
}

// Events the nodes forwarded to their owners and got answered, summed over every node's
// /cluster members.
double forwarded_by_nodes(const Cluster& cluster) {
    double total = 0;
    for (const AdminClient& admin : cluster.admins) {
        const nlohmann::json view = admin.cluster();
        for (const nlohmann::json& member : view["members"])
            total += member.value("forwarded", 0.0);
    }
    return total;
}

// Starts n nodes into `cluster`, each in a scratch directory of its own with its own store,
// and returns once every node's /cluster counts all n members up.
void start_cluster(Cluster& cluster, const BenchOptions& o, size_t n) {
    std::vector<uint16_t> middleman_ports;
    for (size_t i = 0; n > 1 && i < n; ++i) {
        const std::optional<uint16_t> port = reserve_loopback_port();
        if (!port)
            throw std::runtime_error(
                "no loopback port for a middleman: every port below the ephemeral range is in "
                "use or locked in " +
                std::string(kLoopbackPortLocks));
        middleman_ports.push_back(*port);
    }
    for (size_t i = 0; i < n; ++i) {
        cluster.nodes.push_back(std::make_unique<DaemonChild>(o.journeyd, "", o.keep));
        cluster.nodes.back()->start(marketplace_config(o.arbitration_window, middleman_ports, i));
        cluster.admins.emplace_back(cluster.nodes.back()->admin());
    }
    poll_until(
        [&] {
            return std::all_of(cluster.admins.begin(), cluster.admins.end(),
                               [&](const AdminClient& admin) {
                                   return admin.cluster().value("members_up", size_t{0}) == n;
                               });
        },
        kFormDeadline, "all " + std::to_string(n) + " members up on every node");
    cluster.formed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                     cluster.nodes.front()->exec_time())
                           .count();
}

// One timed run of `cluster` in `column`. `baseline` is the events/s of N = 1: the first
// run of a single node sets it, and every run reports its ratio to it.
void measure(Report& report, const std::string& column, const BenchOptions& o,
             const Cluster& cluster, std::shared_ptr<const ZipfDistribution> customers,
             bool owner_aware, std::optional<double>& baseline, const std::string& id_prefix,
             uint64_t seed) {
    const size_t n = cluster.nodes.size();
    std::vector<ProcessSample> before;
    for (const auto& node : cluster.nodes) before.push_back(sample_process(node->pid()));
    const double forwarded_before = forwarded_by_nodes(cluster);

    LoadPlan plan;
    for (const auto& node : cluster.nodes) plan.ingests.push_back(node->ingest());
    plan.connections = o.connections;
    plan.pipeline = o.pipeline;
    plan.duration = std::chrono::milliseconds(static_cast<int64_t>(o.cluster_seconds * 1000));
    // Events each connection sent to a node that does not own their customer; written by
    // that connection's thread only, read once run_load has joined them all.
    std::vector<uint64_t> sent_to_non_owner(o.connections, 0);
    const LoadResult load = run_load(plan, [&](size_t c) {
        const uint32_t node = static_cast<uint32_t>(c % n);
        auto accept = [owners = cluster.owners, node, owner_aware,
                       &count = sent_to_non_owner[c]](size_t rank) {
            const bool owned = (*owners)[rank] == node;
            if (owned) return true;
            if (owner_aware) return false;
            ++count;
            return true;
        };
        return std::make_unique<MarketplaceMix>(customers, seed + c,
                                                id_prefix + "c" + std::to_string(c) + "-", o.batch,
                                                std::move(accept));
    });

    std::vector<ProcessSample> after;
    for (const auto& node : cluster.nodes) after.push_back(sample_process(node->pid()));
    const double forwarded = static_cast<double>(
        std::accumulate(sent_to_non_owner.begin(), sent_to_non_owner.end(), uint64_t{0}));
    double nodes_forwarded = forwarded_by_nodes(cluster) - forwarded_before;
    const auto counts_until = std::chrono::steady_clock::now() + kCountsDeadline;
    while (nodes_forwarded < forwarded && std::chrono::steady_clock::now() < counts_until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        nodes_forwarded = forwarded_by_nodes(cluster) - forwarded_before;
    }

    const double rate = load.acknowledged_per_second();
    if (n == 1 && !baseline) baseline = rate;
    double cpu_s = 0, cpu_pct = 0, rss_bytes = 0;
    for (size_t i = 0; i < n; ++i) {
        cpu_s += after[i].cpu_seconds - before[i].cpu_seconds;
        cpu_pct += cpu_percent(before[i], after[i]);
        rss_bytes += static_cast<double>(after[i].rss_bytes);
    }
    report.set(column, "nodes", "nodes", static_cast<double>(n));
    report.set(column, "formed_s", "first exec to all members up (s)", cluster.formed_s, 2);
    report_load(report, column, load);
    report.set(column, "ratio_to_1", "events/s relative to N=1",
               baseline && *baseline > 0 ? std::optional<double>(rate / *baseline) : std::nullopt,
               2);
    report.set(column, "forwarded_percent", "events sent to a non-owner (%)",
               load.events_sent > 0 ? std::optional<double>(100 * forwarded / load.events_sent)
                                    : std::nullopt,
               1);
    report.set(column, "forwarded", "  by the ownership rule (events)", forwarded);
    report.set(column, "forwarded_by_nodes", "  forwarded per the nodes' /cluster",
               nodes_forwarded);
    report.set(column, "cpu_s", "journeyd CPU, all nodes (s)", cpu_s, 1);
    report.set(column, "cpu_percent", "journeyd CPU, all nodes (% of a core)", cpu_pct, 0);
    report.set(column, "rss_mib", "journeyd RSS at end, all nodes (MiB)", rss_bytes / kMiB, 1);
    report.require_equal(column, "forwarded", "forwarded_by_nodes");
    report.require_positive(column, "rss_mib");
}

std::vector<size_t> cluster_sizes(const BenchOptions& o) {
    std::vector<size_t> sizes = o.nodes;
    std::sort(sizes.begin(), sizes.end());
    sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
    if (sizes.empty() || sizes.front() == 0)
        throw std::runtime_error("--nodes needs cluster sizes of at least 1");
    if (sizes.back() > o.connections)
        throw std::runtime_error("--nodes " + std::to_string(sizes.back()) + " needs at least " +
                                 std::to_string(sizes.back()) +
                                 " --connections, one for each node");
    return sizes;
}

// Whether every node owns a customer of the population: an owner-aware connection draws
// only those of its node.
bool every_node_owns_one(const Owners& owners, size_t n) {
    std::vector<bool> owns(n);
    for (uint32_t owner : owners) owns[owner] = true;
    return std::all_of(owns.begin(), owns.end(), [](bool b) { return b; });
}

}  // namespace

Report run_cluster(const BenchOptions& o) {
    const std::vector<size_t> sizes = cluster_sizes(o);
    Report report("cluster");
    std::string nodes_text;
    for (size_t n : sizes) nodes_text += (nodes_text.empty() ? "" : ",") + std::to_string(n);
    report.setting("nodes", nodes_text);
    report.setting("seconds", o.cluster_seconds);
    marketplace_settings(report, o);
    report.setting("journeyd", o.journeyd);
    report.setting("store", "durable, sync = true, one data directory per node");

    const auto customers = std::make_shared<const ZipfDistribution>(o.customers, o.zipf);
    const std::string prefix = unique_run_prefix();
    std::optional<double> baseline;
    for (size_t n : sizes) {
        const std::string column = "N=" + std::to_string(n);
        const auto owners = owners_by_rank(o.customers, n);
        for (const bool owner_aware : {false, true}) {
            if (owner_aware && (n == 1 || o.no_owner_aware)) continue;
            if (owner_aware && !every_node_owns_one(*owners, n)) {
                report.note(column + " owner-aware: skipped, a node owns none of the " +
                            std::to_string(o.customers) + " customers");
                continue;
            }
            const std::string run = column + (owner_aware ? " owner-aware" : "");
            Cluster cluster;
            cluster.owners = owners;
            start_cluster(cluster, o, n);
            measure(report, run, o, cluster, customers, owner_aware, baseline,
                    prefix + (owner_aware ? "owner-" : "") + column + "-",
                    o.seed + 100 * n + (owner_aware ? 50 : 0));
            for (const auto& node : cluster.nodes) node->stop();
        }
        if (o.connections % n != 0)
            report.note(column + ": " + std::to_string(o.connections) +
                        " connections do not split evenly over " + std::to_string(n) +
                        " nodes; node i gets those c with c % " + std::to_string(n) + " == i");
    }

    report.note("every N runs the same " + std::to_string(o.connections) +
                " connections at their peak (unpaced), connection c sending to node c % N; "
                "ack latency is per frame of " +
                std::to_string(o.batch) +
                " events, from writing it to reading its answer, which comes once every "
                "owner committed (fsync'd) the frame's events");
    report.note(
        "events sent to a non-owner: counted by the bench with the nodes' ownership "
        "rule (rendezvous hashing over the member names); each is forwarded over CAF's "
        "middleman. --check requires the nodes' /cluster forwarded counts to match");
    report.note(
        "owner-aware: each connection draws only customers its node owns (the Zipf "
        "draw restricted to them), so nothing is forwarded");
    if (!baseline) report.note("events/s relative to N=1: not measured, --nodes has no 1");
    report.note("all nodes and the load generator share this machine's " +
                std::to_string(std::thread::hardware_concurrency()) +
                " cores: this shows what forwarding costs and that the cluster serves, not how "
                "it scales across machines");
    return report;
}

}  // namespace journeyd::bench
