#include "runtime/cluster/cluster.hpp"

#include <spdlog/spdlog.h>
#include <caf/io/all.hpp>

#include "actors/cluster_gateway.hpp"
#include "actors/cluster_peer.hpp"
#include "actors/messages.hpp"
#include "actors/rate_borrower.hpp"

namespace journeyd {
namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(30);
constexpr DurationMs kLeaseTerm = 3'000;  // asked for every second: two lost asks are fine

std::vector<std::string> member_names(const ClusterSettings& cluster, const std::string& self) {
    std::vector<std::string> names;
    for (const ClusterMember& member : cluster.members) names.push_back(member.name);
    if (names.empty()) names.push_back(self);
    return names;
}

std::string address_of(const ClusterMember& member) {
    const bool v6 = member.host.find(':') != std::string::npos;
    return (v6 ? "[" + member.host + "]" : member.host) + ":" + std::to_string(member.port);
}

}  // namespace

Cluster::Cluster(caf::actor_system& system, const Config& config, ClusterLocal local)
    : system_(system),
      ownership_(member_names(config.cluster, config.node.name), config.node.name) {
    const ClusterSettings& settings = config.cluster;
    std::vector<MemberStatus> initial(ownership_.members().size());
    for (size_t i = 0; i < initial.size(); ++i) {
        initial[i].name = ownership_.members()[i];
        if (i < settings.members.size()) initial[i].address = address_of(settings.members[i]);
        initial[i].since = local.now();
    }
    initial[ownership_.self()].state = MemberState::self;
    status_ = std::make_shared<ClusterStatus>(std::move(initial));
    if (settings.members.empty()) {
        router_ = CustomerRouter(local.shards, local.coordinator);
        return;
    }

    GatewaySetup gateway;
    gateway.ownership = ownership_;
    gateway.shards = local.shards;
    gateway.coordinator = local.coordinator;
    gateway.store = local.store;
    gateway.configs = local.configs;
    gateway.config_applier = local.config_applier;
    gateway.now = local.now;
    gateway.timeout = std::chrono::milliseconds(settings.forward_timeout);
    const bool lends = ownership_.self() == 0 && !config.pressure.rate.empty();
    if (lends) gateway.lender.emplace(config.pressure.rate, settings.members.size(), kLeaseTerm);
    gateway_ = system.spawn(cluster_gateway, std::move(gateway));
    const ClusterMember& own = settings.members[ownership_.self()];
    const std::string listen = settings.listen.empty() ? address_of(own) : settings.listen;
    const Address bind = *parse_address(listen);
    if (!is_loopback_address(listen))
        spdlog::warn(
            "cluster: middleman {} is reachable from other machines and has neither "
            "authentication nor encryption: keep it on a network only the members reach",
            listen);
    auto published = system.middleman().publish(gateway_, bind.port, bind.host.c_str(), true);
    if (!published) {
        caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);  // or the system waits
        throw std::runtime_error("cluster: cannot open the middleman port " + listen + ": " +
                                 system.render(published.error()));
    }

    connector_ =
        std::make_unique<ClusterConnector>(system, config.node.name, ownership_.fingerprint(),
                                           std::chrono::milliseconds(settings.connect_timeout));
    for (size_t i = 0; i < settings.members.size(); ++i) {
        if (i == ownership_.self()) {
            peers_.emplace_back();
            continue;
        }
        PeerSetup peer;
        peer.member = settings.members[i];
        peer.index = i;
        peer.self_name = config.node.name;
        peer.fingerprint = ownership_.fingerprint();
        peer.configs = local.configs;
        peer.connect = [connector = connector_.get()](const caf::actor& who,
                                                      const ClusterMember& member) {
            connector->connect(who, member);
        };
        peer.status = status_;
        peer.remote_counters = local.remote_counters;
        peer.now = local.now;
        peer.forward_timeout = std::chrono::milliseconds(settings.forward_timeout);
        peer.connect_timeout = std::chrono::milliseconds(settings.connect_timeout);
        peers_.push_back(system.spawn(cluster_peer, std::move(peer)));
    }
    router_ = CustomerRouter(local.shards, local.coordinator, ownership_, peers_);
    if (!config.pressure.rate.empty()) {
        BorrowerSetup borrower;
        borrower.floor = floor_rates(config.pressure.rate, settings.members.size());
        borrower.member = ownership_.self();
        borrower.lender = lends ? gateway_ : peers_[0];
        borrower.coordinator = local.coordinator;
        borrower.status = status_;
        borrower.now = local.now;
        borrower.term = kLeaseTerm;
        borrower_ = system.spawn(rate_borrower, std::move(borrower));
    }
    spdlog::info("cluster: node={} middleman={} members={} fingerprint={:016x}", config.node.name,
                 listen, settings.members.size(), ownership_.fingerprint());
}

Cluster::~Cluster() {
    stop();
}

void Cluster::drain() {
    if (!gateway_) return;
    caf::scoped_actor self{system_};
    self->request(gateway_, kDrainTimeout, drain_atom::value)
        .receive([] {},
                 [](caf::error& e) {
                     spdlog::warn("cluster gateway did not drain in time: {}", caf::to_string(e));
                 });
}

void Cluster::stop() {
    // The connector first: its thread sends to the peers and asks the middleman.
    if (connector_) connector_->stop();
    for (const caf::actor& peer : peers_)
        if (peer) caf::anon_send_exit(peer, caf::exit_reason::user_shutdown);
    if (gateway_) caf::anon_send_exit(gateway_, caf::exit_reason::user_shutdown);
    if (borrower_) caf::anon_send_exit(borrower_, caf::exit_reason::user_shutdown);
    borrower_ = nullptr;
    router_ = CustomerRouter();
    peers_.clear();
    gateway_ = nullptr;
}

PressurePolicy node_share(PressurePolicy policy, size_t members) {
    if (members > 0) policy.rate = floor_rates(policy.rate, members);
    return policy;
}

}  // namespace journeyd
