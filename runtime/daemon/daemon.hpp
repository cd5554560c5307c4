// The journeyd process: one actor system holding the customer shards, the store writer,
// the coordinator (actors/messages.hpp shows how they talk), the ingest port on I/O threads
// of its own (runtime/ingest/ingest_server.hpp), the delivery sink, the admin HTTP server and, with
// [cluster] members, this node's part in the cluster (runtime/cluster/cluster.hpp).
//
// The constructor starts everything and binds both ports (port 0 picks a free one, see
// ingest_port()/admin_port()); it throws std::runtime_error when a port or the sink cannot
// be opened. run() waits for SIGTERM/SIGINT. Stopping goes front to back so that nothing
// received is lost: the ingest stops accepting and answers every frame it has received
// (each answer waits for its commit), the cluster gateway answers what other members
// forwarded, the admin port closes, then the coordinator and the store writer finish what
// was sent to them, and the sink delivers what it holds.
#pragma once

#include <caf/all.hpp>
#include <memory>
#include <mutex>

#include "actors/customer_shard.hpp"
#include "actors/metrics.hpp"
#include "config/config.hpp"
#include "config/config_archive.hpp"
#include "config/config_change.hpp"
#include "config/config_version.hpp"
#include "config/live_config.hpp"
#include "runtime/admin/admin_server.hpp"
#include "runtime/cluster/cluster.hpp"
#include "runtime/delivery/delivery_sink.hpp"
#include "runtime/ingest/ingest_server.hpp"
#include "state/store/record_store.hpp"

namespace journeyd {

class Daemon {
  public:
    // `running`: the configuration as loaded, which GET /config shows; `config` is it with the
    // command-line overrides applied.
    Daemon(Config config, RunningConfig running);
    ~Daemon();

    // Blocks until SIGTERM/SIGINT, which must already be blocked in every thread
    // (block_handled_signals, before any thread starts) so they reach this one, as SIGHUP
    // does: it has the configuration file read again and applied, and the daemon runs on.
    int run();
    static void block_handled_signals();

    uint16_t ingest_port() const { return ingest_port_; }
    uint16_t admin_port() const { return admin_port_; }

    // Checks `text` against the customers `counts` counts (every member's, in a cluster) and,
    // when it passes, applies it here and, in a cluster, on every other member or on none: kept
    // in the data directory, in force from now on and after a restart (docs/operations.md,
    // "Changing the configuration"). `from_file`: the text is the file journeyd was started
    // with, read again (SIGHUP). Thread-safe; changes are applied one at a time.
    ConfigCheck apply_configuration(const std::string& text, const std::string& source,
                                    const StageCounts& counts, bool from_file = false);

  private:
    void start();
    void stop();
    // A change applied while the last process ran stays in force when this one starts from
    // the same text it was applied over.
    void take_configuration_in_force(const ConfigArchive& archive);
    void apply_configuration_file_again();
    // What a checked text compiles to here: its journey and pressure with this member's own
    // node settings.
    std::shared_ptr<const LiveConfig> compile(const LiveConfig& live, const std::string& text,
                                              const std::string& source,
                                              const std::string& version) const;
    // Records `next` as in force, has the coordinator take it, publishes it; "" or why not
    // (then nothing changed). The caller holds reload_mutex_.
    std::string put_in_force(const LiveConfig& live, std::shared_ptr<const LiveConfig> next,
                             bool from_file);
    // The other members' answers to one step of a cluster-wide change, by member name.
    template <class Atom>
    std::vector<std::pair<std::string, std::string>> ask_members(
        const std::vector<std::pair<std::string, caf::actor>>& members, Atom atom,
        const std::string& argument);
    // The steps another member asks of this one (actors/messages.hpp, config_prepare_atom).
    std::string prepare_configuration(const std::string& text);
    std::string commit_prepared(const std::string& version);
    void abort_prepared(const std::string& version);

    Config config_;
    RunningConfig running_;     // as started; configs_ holds the one in force
    std::string file_source_;   // what SIGHUP reads again
    std::string file_version_;  // the version of its text when last read
    std::shared_ptr<LiveConfigs> configs_;
    std::shared_ptr<const ConfigArchive> config_archive_;
    std::shared_ptr<RemoteCounters> remote_counters_;
    std::mutex reload_mutex_;
    std::shared_ptr<const LiveConfig> prepared_;  // a change another member asked to prepare
    caf::actor config_applier_;
    caf::actor_system_config caf_config_;
    std::unique_ptr<caf::actor_system> system_;
    std::shared_ptr<Metrics> metrics_;
    std::shared_ptr<RecordStore> store_;
    std::shared_ptr<DeliverySink> sink_;
    caf::actor store_writer_;
    caf::actor coordinator_;
    caf::actor sweeper_;
    caf::actor population_keeper_;  // stores the send-time prior (actors/population_keeper.hpp)
    ShardRouter router_;
    std::unique_ptr<Cluster> cluster_;
    std::unique_ptr<AdminServer> admin_;
    std::unique_ptr<IngestServer> ingest_;
    uint16_t ingest_port_ = 0;
    uint16_t admin_port_ = 0;
};

}  // namespace journeyd
