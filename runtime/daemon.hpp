// The journeyd process: one actor system holding the customer shards, the store writer and
// the coordinator, wired as actors/messages.hpp describes.
//
// run() blocks until SIGTERM or SIGINT, then stops the actors in dependency order
// (shards and their customers first, the store writer last, so records sent before the
// signal are still committed) and returns the exit code.
#pragma once

#include <caf/all.hpp>
#include <memory>

#include "actors/customer_shard.hpp"
#include "config/config.hpp"
#include "state/record_store.hpp"

namespace journeyd {

class Daemon {
  public:
    explicit Daemon(Config config);
    ~Daemon();

    // Blocks the calling thread until SIGTERM/SIGINT; the signals must already be blocked
    // in every thread (block_shutdown_signals) so they reach this one.
    int run();

    static void block_shutdown_signals();

  private:
    Config config_;
    caf::actor_system_config caf_config_;
    std::unique_ptr<caf::actor_system> system_;
    std::shared_ptr<RecordStore> store_;
    caf::actor store_writer_;
    caf::actor coordinator_;
    ShardRouter router_;
};

}  // namespace journeyd
