#include "runtime/daemon/daemon.hpp"

#include <spdlog/spdlog.h>
#include <caf/io/all.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <thread>

#include "actors/coordinator.hpp"
#include "actors/customer_router.hpp"
#include "actors/messages.hpp"
#include "actors/population_keeper.hpp"
#include "actors/store_writer.hpp"
#include "actors/timer_sweeper.hpp"
#include "config/config_change.hpp"
#include "runtime/daemon/own_thread.hpp"
#include "runtime/daemon/start_line.hpp"
#include "runtime/tls/tls_context.hpp"
#include "state/store/logged_store.hpp"
#include "state/thread_name.hpp"

namespace journeyd {
namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(30);
// The store writer gathers records for up to 2 ms anyway: a record that waits 250 us for it to
// look costs nothing, and the senders are spared a wake-up each. The coordinator does not
// linger: measured, its looks added a millisecond to the p99 of event->decision and saved no
// CPU (docs/performance.md).
constexpr Linger kWriterLinger{std::chrono::microseconds(250), 8};

// SIGTERM and SIGINT stop the daemon; SIGHUP has it check its configuration file again.
sigset_t handled_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    return signals;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
    return out;
}

void drain_and_wait(caf::scoped_actor& self, const caf::actor& actor) {
    if (!actor) return;
    self->send(actor, drain_atom::value);
    self->wait_for(actor);
}

// CAF's workers, its timer and middleman threads and detached actors' threads all start as
// "caf"; the coordinator renames its own.
class NameCafThreads : public caf::thread_hook {
  public:
    void init(caf::actor_system&) override {}
    void thread_started() override { name_this_thread("caf"); }
    void thread_terminates() override {}
};

}  // namespace

Daemon::Daemon(Config config, RunningConfig running)
    : config_(std::move(config)),
      running_(std::move(running)),
      file_source_(running_.source),
      file_version_(running_.version) {
    try {
        start();
    } catch (...) {
        stop();  // actors already spawned would otherwise keep the actor system from ending
        throw;
    }
}

void Daemon::start() {
    // Before anything else, so that a certificate or key that cannot be used stops journeyd
    // at start with the message naming the key and the file (journeyd_main exits 1).
    std::shared_ptr<asio::ssl::context> admin_tls;
    if (config_.admin.tls.enabled())
        admin_tls = make_server_tls_context(config_.admin.tls, "[admin]");
    // OpenSSL writes to sockets with write(2), which raises SIGPIPE on a connection the peer
    // reset; our own sends use MSG_NOSIGNAL. Ignored, the write fails with EPIPE instead of
    // ending the process.
    std::signal(SIGPIPE, SIG_IGN);
    caf_config_.load<caf::io::middleman>();
    caf_config_.add_thread_hook<NameCafThreads>();
    caf_config_.set("logger.verbosity", caf::atom("quiet"));
    // The stealing scheduler polls while idle (CAF issue #1251); an idle daemon must idle.
    caf_config_.set("scheduler.policy", caf::atom("sharing"));
    system_ = std::make_unique<caf::actor_system>(caf_config_);
    metrics_ = std::make_shared<Metrics>();
    std::string store_error;
    LoggedStoreOptions store_options;
    store_options.sync = config_.store.sync;
    store_options.max_size = config_.store.max_size;
    // Once per change, not at every retry (logged_store.hpp).
    store_options.on_error = [](const std::string& error) {
        spdlog::error("store failing error={}", error);
    };
    store_options.on_recovered = [] {
        spdlog::info("store writable again: a checkpoint succeeded, commits are accepted");
    };
    const auto opening = std::chrono::steady_clock::now();
    store_ = LoggedStore::open(config_.node.data_dir, store_options, store_error);
    if (!store_) throw std::runtime_error(store_error);
    // Opening replays the write-ahead log's tail into LMDB: worth seeing when it is long.
    spdlog::info("store opened ms={}", std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - opening)
                                           .count());
    // Every version that decides something stays explainable (GET /config/{version}).
    config_archive_ = std::make_shared<const ConfigArchive>(config_.node.data_dir);
    if (std::string error = config_archive_->keep(running_.version, running_.text); !error.empty())
        throw std::runtime_error("configuration archive: " + error);
    take_configuration_in_force(*config_archive_);
    if (!config_.store.sync)
        spdlog::warn(
            "[store] sync = false: commits are not fsync'd; a crash of the machine can "
            "lose events that were acknowledged");
    store_writer_ = spawn_on_own_thread(
        *system_, {"store-writer", OwnThread::Wakeups::as_any_thread, kWriterLinger}, store_writer,
        store_, GroupCommit{},
        AppliedIdRetention{config_.store.applied_ids_retention, system_now_ms});
    SinkOptions sink_options;
    sink_options.on_delivered = forget_delivered(store_writer_);
    sink_options.on_dead_letter = park_dead_letter(store_writer_);
    std::string sink_error;
    sink_ = make_sink(config_.delivery.sink, sink_options, sink_error);
    if (!sink_) throw std::runtime_error("delivery sink: " + sink_error);

    CoordinatorSetup coordination;
    // Each node decides for the customers it owns. In a cluster it starts at its floor of the
    // global rate budgets; its rate borrower adds what it leases (state/pressure/rate_lease.hpp).
    coordination.policy = node_share(config_.pressure, config_.cluster.members.size());
    coordination.model = config_.journey;
    coordination.offer = [sink = sink_](Delivery d) { return sink->offer(std::move(d)); };
    coordination.now = system_now_ms;
    coordination.metrics = metrics_;
    coordination.config_version = running_.version;
    coordination.store = store_;
    coordination.store_writer = store_writer_;
    coordination.unfinished = read_unfinished(*store_, config_.journey);
    // A thread of its own: on the scheduler's one shared queue a contact request would wait
    // behind every customer actor scheduled before it, thousands in a burst of frames. And
    // prompt wake-ups: on busy cores a request waited for the coordinator to be scheduled.
    coordinator_ = spawn_on_own_thread(
        *system_,
        {"coordinator", config_.runtime.realtime_coordinator ? OwnThread::Wakeups::prompt_realtime
                                                             : OwnThread::Wakeups::prompt},
        coordinator, std::move(coordination));
    // Made before the customers' context, which hands it to them, and filled by the cluster's
    // peers.
    if (!config_.cluster.members.empty())
        remote_counters_ = std::make_shared<RemoteCounters>(config_.cluster.members.size());
    auto action_totals = std::make_shared<ActionTotals>(config_.journey, remote_counters_);
    action_totals->load(store_->stats().actions);
    const auto engine = std::make_shared<const JourneyEngine>(config_.journey);
    configs_ = starting_configs(running_, engine, std::move(action_totals));
    auto context = std::make_shared<CustomerContext>();
    context->configs = configs_;
    context->store_writer = store_writer_;
    context->coordinator = coordinator_;
    context->now = system_now_ms;
    context->metrics = metrics_;
    context->store = store_;
    context->idle_after = config_.runtime.idle_after;
    context->max_aliases = config_.identity.max_aliases;
    context->population = std::make_shared<PopulationRhythm>(stored_population(*store_));
    population_keeper_ = system_->spawn(population_keeper,
                                        PopulationKeeperSetup{context->population, store_writer_});
    const size_t shards = std::max(2u, std::thread::hardware_concurrency()) * 2;
    router_ = ShardRouter(*system_, context, shards);
    caf::anon_send(coordinator_, shards_atom::value, router_.shards());
    sweeper_ = system_->spawn(timer_sweeper, SweeperSetup{store_, router_, system_now_ms});
    // The steps of a change posted to another member, on a thread of their own: applying
    // writes files and waits for the coordinator.
    config_applier_ = system_->spawn<caf::detached>([this]() -> caf::behavior {
        return {
            [this](config_prepare_atom, const std::string& text) {
                return prepare_configuration(text);
            },
            [this](config_commit_atom, const std::string& version) {
                return commit_prepared(version);
            },
            [this](config_abort_atom, const std::string& version) {
                abort_prepared(version);
                return std::string();
            },
        };
    });
    cluster_ =
        std::make_unique<Cluster>(*system_, config_,
                                  ClusterLocal{router_, coordinator_, store_, configs_,
                                               config_applier_, system_now_ms, remote_counters_});
    // An alias's messages go where its canonical customer is, on this member or another.
    for (const caf::actor& shard : router_.shards())
        caf::anon_send(shard, shards_atom::value, cluster_->router());
    // Merges into another member's customers that a crash left unsettled are sent again.
    for (auto& [alias, intent] : store_->read_all(Table::merges))
        caf::anon_send(router_.shard_for(alias), merge_atom::value, alias, intent);

    auto ingest_context = std::make_shared<IngestContext>();
    ingest_context->router = cluster_->router();
    ingest_context->metrics = metrics_;
    ingest_context->now = system_now_ms;
    ingest_context->limits.max_connections = config_.ingest.max_connections;
    ingest_context->limits.max_frame = static_cast<uint32_t>(config_.ingest.max_frame);
    ingest_context->limits.max_pending_frames = config_.ingest.max_pending_frames;
    ingest_context->limits.max_unsent_bytes = config_.ingest.max_unsent_bytes;
    ingest_context->limits.idle_timeout = std::chrono::milliseconds(config_.ingest.idle_timeout);
    auto ingest_access = std::make_shared<IngestAccess>();
    ingest_access->token_digest = ingest_token_digest(config_.ingest.token);
    if (config_.ingest.tls.enabled())
        ingest_access->tls = make_server_tls_context(config_.ingest.tls, "[ingest]");
    ingest_ = std::make_unique<IngestServer>(*system_, ingest_context, std::move(ingest_access),
                                             config_.ingest.io_threads);
    const auto [ingest_host, ingest_port] = *parse_address(config_.node.ingest);
    ingest_port_ = ingest_->listen(ingest_host, ingest_port);

    auto cluster_view = [cluster = cluster_.get(), clustered = !config_.cluster.members.empty()] {
        auto [rates, lease_until] = cluster->rates();
        return ClusterView{clustered, cluster->fingerprint(), cluster->members(), std::move(rates),
                           lease_until};
    };
    AdminContext admin;
    admin.node_name = config_.node.name;
    admin.token = config_.admin.token;
    admin.system = system_.get();
    admin.router = cluster_->router();
    admin.coordinator = coordinator_;
    admin.cluster = cluster_view;
    admin.metrics = metrics_;
    admin.store = store_;
    admin.sink = sink_;
    admin.configs = configs_;
    admin.apply_config = [this](const std::string& text, const StageCounts& counts) {
        return apply_configuration(text, std::string(kPostedConfigSource), counts);
    };
    admin.now = system_now_ms;
    admin.max_body = config_.admin.max_body;
    admin.max_connections = config_.admin.max_connections;
    admin.read_timeout = config_.admin.read_timeout;
    admin.tls = admin_tls;
    admin.forward_timeout = config_.cluster.forward_timeout;
    admin.config_archive = config_archive_;
    admin_ = std::make_unique<AdminServer>(std::move(admin));
    const auto [admin_host, admin_port] = *parse_address(config_.node.admin);
    admin_port_ = admin_->start(admin_host, admin_port);
    // The start line stays as the programs reading it expect (start_line.hpp); TLS is said
    // here, with what an operator checks after replacing the certificate.
    if (admin_tls) spdlog::info("admin: TLS on, certificate {}", describe_certificate(*admin_tls));
    StartLine started;
    started.node = config_.node.name;
    started.ingest_host = ingest_host;
    started.ingest_port = ingest_port_;
    started.admin_host = admin_host;
    started.admin_port = admin_port_;
    started.data_dir = config_.node.data_dir;
    started.stored_customers = store_->stats().customers;
    started.sink = config_.delivery.sink;
    started.stages = config_.journey.stages.size();
    started.programs = config_.journey.programs.size();
    started.shards = shards;
    started.config_version = running_.version;
    spdlog::info("{}", format_start_line(started));
}

Daemon::~Daemon() {
    stop();
}

void Daemon::stop() {
    if (!system_) return;
    {
        caf::scoped_actor self{*system_};
        if (ingest_) {
            // Blocks this (the daemon's) thread only: the connections drain on their own.
            if (!ingest_->drain(kDrainTimeout))
                spdlog::warn("ingest did not drain in {} s", kDrainTimeout.count());
            ingest_.reset();
        }
        if (cluster_) cluster_->drain();
        if (admin_) admin_->stop();
        if (cluster_) cluster_->stop();
        if (sweeper_) caf::anon_send_exit(sweeper_, caf::exit_reason::user_shutdown);
        if (config_applier_) caf::anon_send_exit(config_applier_, caf::exit_reason::user_shutdown);
        for (const caf::actor& shard : router_.shards())
            caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
        drain_and_wait(self, population_keeper_);
        // The coordinator commits and offers its last decisions; the sink delivers them and
        // confirms to the store writer, which is drained last so the confirmations are kept.
        drain_and_wait(self, coordinator_);
        if (sink_) sink_->close();
        drain_and_wait(self, store_writer_);
    }
    // Everything holding actor handles goes before the actor system: the admin server, the
    // router, and the sink, whose confirmations hold the store writer.
    admin_.reset();
    cluster_.reset();
    router_ = ShardRouter();
    coordinator_ = store_writer_ = sweeper_ = config_applier_ = population_keeper_ = nullptr;
    std::optional<SinkStats> delivered;
    if (sink_) {
        sink_->close();
        delivered = sink_->stats();
        sink_.reset();
    }
    system_.reset();
    if (!delivered) return;
    spdlog::info("journeyd stopped frames={} events={} delivered={} undelivered={} resent={}",
                 metrics_->frames.load(), metrics_->events_accepted.load(), delivered->delivered,
                 delivered->queued, delivered->already_delivered);
}

void Daemon::block_handled_signals() {
    const sigset_t signals = handled_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int Daemon::run() {
    const sigset_t signals = handled_signals();
    for (;;) {
        int received = 0;
        sigwait(&signals, &received);
        if (received == SIGHUP) {
            // A signal never ends the daemon by accident: whatever the reload meets is logged.
            try {
                apply_configuration_file_again();
            } catch (const std::exception& e) {
                spdlog::error("configuration reload not applied source={} error={}", file_source_,
                              e.what());
            }
            continue;
        }
        spdlog::info("journeyd stopping signal={}", strsignal(received));
        stop();
        return 0;
    }
}

void Daemon::take_configuration_in_force(const ConfigArchive& archive) {
    const std::optional<ConfigInForce> in_force = archive.in_force();
    if (!in_force || in_force->over != running_.version || in_force->version == running_.version)
        return;
    const std::optional<std::string> text = archive.text_of(in_force->version);
    ConfigResult loaded;
    if (text) loaded = load_config_text(*text, std::string(kPostedConfigSource));
    if (!loaded.config) {
        spdlog::error(
            "configuration in force unreadable version={} over={}: starting with {} instead",
            in_force->version, in_force->over, running_.source);
        return;
    }
    // A change leaves the node's settings as they are (the text may carry another member's):
    // only its journey and pressure are taken.
    for (Config* config : {&config_, &running_.config}) {
        config->journey = loaded.config->journey;
        config->pressure = loaded.config->pressure;
    }
    running_.source = std::string(kPostedConfigSource);
    running_.text = *text;
    running_.version = in_force->version;
    spdlog::info("configuration in force version={} applied over={}", running_.version,
                 in_force->over);
}

std::shared_ptr<const LiveConfig> Daemon::compile(const LiveConfig& live, const std::string& text,
                                                  const std::string& source,
                                                  const std::string& version) const {
    ConfigResult loaded = load_config_text(text, source);
    // A text posted to another member carries that member's node settings: each member keeps
    // its own (the posting member's are the text's, checked unchanged).
    Config config = live.running.config;
    config.journey = std::move(loaded.config->journey);
    config.pressure = std::move(loaded.config->pressure);
    return following_config(
        live, RunningConfig{source, text, version, system_now_ms(), std::move(config)},
        remote_counters_);
}

std::string Daemon::put_in_force(const LiveConfig& live, std::shared_ptr<const LiveConfig> next,
                                 bool from_file) {
    const std::string& version = next->running.version;
    const ConfigInForce previous{live.running.version, file_version_};
    // Durable before anything decides under it, so it is in force after a crash once answered.
    if (std::string error =
            config_archive_->set_in_force({version, from_file ? version : file_version_});
        !error.empty())
        return error;
    // The coordinator first: a request made under the new configuration may name a program or
    // action only it has.
    caf::scoped_actor self{*system_};
    std::string refused;
    self->request(coordinator_, kDrainTimeout, config_atom::value,
                  CoordinatorRules{
                      node_share(next->running.config.pressure, config_.cluster.members.size()),
                      next->engine->model(), version})
        .receive([](bool) {},
                 [&](caf::error& error) {
                     refused =
                         "the coordinator did not take the configuration: " + to_string(error);
                 });
    if (!refused.empty()) {
        config_archive_->set_in_force(previous);
        return refused;
    }
    configs_->publish(std::move(next));
    if (from_file) file_version_ = version;
    return "";
}

template <class Atom>
std::vector<std::pair<std::string, std::string>> Daemon::ask_members(
    const std::vector<std::pair<std::string, caf::actor>>& members, Atom atom,
    const std::string& argument) {
    std::vector<std::pair<std::string, std::string>> answers;
    if (members.empty()) return answers;
    caf::scoped_actor self{*system_};
    const auto deadline =
        std::chrono::milliseconds(config_.cluster.forward_timeout) + std::chrono::seconds(1);
    // All asked before any answer is awaited: the wait is the slowest member's. The answers
    // come in the order of `members`.
    using Asked = decltype(self->request(members[0].second, deadline, atom, argument));
    std::vector<Asked> asked;
    for (const auto& member : members)
        asked.push_back(self->request(member.second, deadline, atom, argument));
    for (size_t i = 0; i < asked.size(); ++i)
        asked[i].receive(
            [&](std::string& answer) { answers.emplace_back(members[i].first, std::move(answer)); },
            [&](caf::error& error) {
                answers.emplace_back(members[i].first, describe(*system_, error));
            });
    return answers;
}

ConfigCheck Daemon::apply_configuration(const std::string& text, const std::string& source,
                                        const StageCounts& counts, bool from_file) {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    const std::shared_ptr<const LiveConfig> live = configs_->current();
    ConfigCheck check = check_config_change(live->running.config, text, source, counts);
    const ConfigChanges& c = check.changes;
    auto refuse = [&](std::string why) {
        check.applied = false;
        if (!why.empty()) check.errors.push_back(ConfigError{source, 0, 0, std::move(why)});
        for (const ConfigError& error : check.errors) spdlog::warn("{}", error.to_string());
        spdlog::warn("configuration reload not applied source={} version={} errors={}", source,
                     check.version, check.errors.size());
        return check;
    };
    if (!check.ok()) return refuse("");
    check.applied = true;
    if (check.version == live->running.version) {
        spdlog::info("configuration reload unchanged source={} version={}", source, check.version);
        return check;
    }
    std::shared_ptr<const LiveConfig> next = compile(*live, text, source, check.version);
    // Its decisions stay explainable (GET /config/{version}).
    if (std::string error = config_archive_->keep(check.version, text); !error.empty())
        return refuse(error);
    // In a cluster every other member prepares it first: one that cannot, or does not answer,
    // makes it fail everywhere (docs/cluster.md).
    const auto members = cluster_->router().peers();
    std::vector<std::pair<std::string, caf::actor>> prepared;
    std::vector<std::string> refusals;
    const auto answers = ask_members(members, config_prepare_atom::value, text);
    for (size_t i = 0; i < answers.size(); ++i) {
        const auto& [member, answer] = answers[i];
        if (answer.empty())
            prepared.push_back(members[i]);
        else
            refusals.push_back("cluster member " + member + " cannot take the change: " + answer);
    }
    auto abort_prepared_members = [&] {
        for (auto& [member, answer] :
             ask_members(prepared, config_abort_atom::value, check.version))
            if (!answer.empty())
                spdlog::warn("configuration change not dropped member={} version={} error={}",
                             member, check.version, answer);
    };
    if (!refusals.empty()) {
        abort_prepared_members();
        for (std::string& refusal : refusals)
            check.errors.push_back(ConfigError{source, 0, 0, std::move(refusal)});
        return refuse("");
    }
    if (std::string error = put_in_force(*live, next, from_file); !error.empty()) {
        abort_prepared_members();
        return refuse(error);
    }
    // Prepared everywhere and in force here: a member that fails to commit now (it went down
    // in between) is named, and takes the change when it is posted again.
    for (auto& [member, answer] : ask_members(members, config_commit_atom::value, check.version)) {
        if (answer.empty()) continue;
        spdlog::error("configuration change not committed member={} version={} error={}", member,
                      check.version, answer);
        check.errors.push_back(ConfigError{
            source, 0, 0,
            "cluster member " + member + " prepared the change but did not commit it: " + answer +
                "; post the configuration again once it is up"});
    }
    spdlog::info(
        "configuration reload applied source={} version={} previous={} members={} "
        "stages_added={} stages_removed={} programs_added={} programs_removed={} "
        "programs_changed={} segments_changed={} actions_changed={}",
        source, check.version, live->running.version, members.size() + 1, joined(c.stages_added),
        joined(c.stages_removed), joined(c.programs_added), joined(c.programs_removed),
        joined(c.programs_changed), joined(c.segments_changed), joined(c.actions_changed));
    return check;
}

std::string Daemon::prepare_configuration(const std::string& text) {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    const std::shared_ptr<const LiveConfig> live = configs_->current();
    const std::string source(kPostedConfigSource);
    const ConfigCheck check = check_config_change(
        live->running.config, text, source, StageCounts{store_->stats().customers_in_stage, {}},
        RestartSettingsCheck::skipped);
    prepared_.reset();
    if (!check.ok()) {
        std::string why;
        for (const ConfigError& error : check.errors)
            why += (why.empty() ? "" : "; ") + error.to_string();
        return why;
    }
    if (check.version == live->running.version) return "";  // in force here already
    if (std::string error = config_archive_->keep(check.version, text); !error.empty())
        return error;
    prepared_ = compile(*live, text, source, check.version);
    spdlog::info("configuration change prepared version={}", check.version);
    return "";
}

std::string Daemon::commit_prepared(const std::string& version) {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    const std::shared_ptr<const LiveConfig> live = configs_->current();
    if (live->running.version == version) return "";
    if (!prepared_ || prepared_->running.version != version ||
        prepared_->generation != live->generation + 1)
        return "no change to version " + version + " is prepared here";
    std::shared_ptr<const LiveConfig> next = std::move(prepared_);
    if (std::string error = put_in_force(*live, next, false); !error.empty()) return error;
    spdlog::info("configuration reload applied source=<cluster> version={} previous={}", version,
                 live->running.version);
    return "";
}

void Daemon::abort_prepared(const std::string& version) {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    if (prepared_ && prepared_->running.version == version) prepared_.reset();
}

// SIGHUP: the file journeyd started with, read again and applied as POST /config applies a
// posted one; the outcome is logged for the operator who sent the signal.
void Daemon::apply_configuration_file_again() {
    ConfigError unreadable;
    const std::optional<std::string> text = read_config_source(file_source_, unreadable);
    if (!text) {
        spdlog::warn("configuration reload not applied source={} error={}", file_source_,
                     unreadable.to_string());
        return;
    }
    // A cluster's change is posted to one member, which counts every member's customers and
    // applies it on all of them (journeyctl reload).
    if (!config_.cluster.members.empty()) {
        spdlog::warn(
            "configuration reload not applied source={}: in a cluster, post the file to one "
            "member (journeyctl reload), which applies it on every member",
            file_source_);
        return;
    }
    apply_configuration(*text, file_source_, StageCounts{store_->stats().customers_in_stage, {}},
                        true);
}

}  // namespace journeyd
