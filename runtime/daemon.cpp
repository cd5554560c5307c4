#include "runtime/daemon.hpp"

#include <spdlog/spdlog.h>
#include <csignal>
#include <thread>

#include "actors/coordinator_stub.hpp"
#include "actors/store_writer.hpp"

namespace journeyd {

Daemon::Daemon(Config config) : config_(std::move(config)) {
    caf_config_.set("logger.verbosity", caf::atom("quiet"));
    system_ = std::make_unique<caf::actor_system>(caf_config_);
    store_ = std::make_shared<MemoryRecordStore>();
    store_writer_ = system_->spawn(store_writer, store_, GroupCommit{});
    coordinator_ = system_->spawn(coordinator_stub);
    auto context = std::make_shared<CustomerContext>();
    context->engine = std::make_shared<JourneyEngine>(config_.journey);
    context->store_writer = store_writer_;
    context->coordinator = coordinator_;
    context->now = system_now_ms;
    const size_t shards = std::max(2u, std::thread::hardware_concurrency()) * 2;
    router_ = ShardRouter(*system_, context, shards);
    spdlog::info("journeyd started node={} stages={} programs={} shards={}", config_.node.name,
                 config_.journey.stages.size(), config_.journey.programs.size(), shards);
}

Daemon::~Daemon() {
    for (const caf::actor& shard : router_.shards())
        caf::anon_send_exit(shard, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(coordinator_, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store_writer_, caf::exit_reason::user_shutdown);
    system_.reset();
}

void Daemon::block_shutdown_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int Daemon::run() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("journeyd stopping signal={}", strsignal(received));
    return 0;
}

}  // namespace journeyd
