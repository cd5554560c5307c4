// The events journey-bench sends, as ready msgpack batch frames (docs/protocol.md "The event map").
//
// MarketplaceMix is the traffic of `limit`, `ingest` and `cluster` on the default journey:
// customers "c<rank>" drawn Zipf(s) over a population (rank 0 the most active: a few very busy
// users, a long tail), 10% `profile` events (a plan, sometimes a time zone, sometimes consent), the
// rest browsing, selling and messaging (search, view, favorite, ad_placed, message_sent,
// sale, message_received, password_reset). Every event carries `ts` (now) and an id made of
// the source's prefix and a counter, so sources with distinct prefixes never repeat an id.
// With `accept`, each drawn rank goes through it and a rank it refuses is drawn again: the
// cluster mode gives a connection only the customers its node owns, or counts those it
// sends to a node that does not own them. With `max_events` the source is exhausted after
// that many events (none: at once) (its last frame holds the rest), so a run of a fixed size sends
// the same customers, types and attributes for the same seed whatever the machine's speed.
//
// EachCustomerOnce activates a population for `actors`, `timers` and `restart`: customers
// first, first + stride, ... below `count` get one event each, of the type `type_of(i)`
// names, in batches; a connection c of C takes first = c, stride = C.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "runtime/bench/load.hpp"

namespace journeyd::bench {

std::string customer_id(size_t index);

// Ranks 0..n-1 with P(k) proportional to 1 / (k+1)^s, by binary search in the cumulative
// distribution (n doubles, shared by every source).
// Thread-safety: immutable once built; every connection thread draws at once, each with its own
// generator.
class ZipfDistribution {
  public:
    ZipfDistribution(size_t n, double s);
    size_t operator()(std::mt19937_64& random) const;

  private:
    std::vector<double> cumulative_;
};

class MarketplaceMix final : public FrameSource {
  public:
    // Called on the source's connection thread with each drawn customer rank.
    using Accept = std::function<bool(size_t rank)>;

    MarketplaceMix(std::shared_ptr<const ZipfDistribution> customers, uint64_t seed,
                   std::string id_prefix, size_t batch, Accept accept = nullptr,
                   std::optional<uint64_t> max_events = std::nullopt);
    bool next(Frame& frame) override;

  private:
    std::shared_ptr<const ZipfDistribution> customers_;
    std::mt19937_64 random_;
    std::discrete_distribution<size_t> type_;
    std::string id_prefix_;
    size_t batch_;
    Accept accept_;
    std::optional<uint64_t> max_events_;  // none: no end
    uint64_t next_id_ = 0;
};

// `offset`: the events go to customers first + offset, ...: the same sequence of indexes for
// another range of ids. `named`: each event also has attrs {"as": the id of customer i} for
// its index i (`identify` merges customer offset + i into customer i).
class EachCustomerOnce final : public FrameSource {
  public:
    EachCustomerOnce(size_t first, size_t stride, size_t count, size_t batch,
                     std::function<std::string(size_t)> type_of, std::string id_prefix,
                     size_t offset = 0, bool named = false);
    bool next(Frame& frame) override;

  private:
    size_t next_;
    size_t stride_;
    size_t count_;
    size_t batch_;
    std::function<std::string(size_t)> type_of_;
    std::string id_prefix_;
    size_t offset_;
    bool named_;
};

}  // namespace journeyd::bench
