#include "runtime/bench/workload.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <msgpack.hpp>
#include <stdexcept>
#include <string_view>

namespace journeyd::bench {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

struct WeightedType {
    const char* type;
    double percent;
};

// The share of each event type in MarketplaceMix, in % of all events.
constexpr WeightedType kMix[] = {
    {"profile", 10},  {"search", 25},          {"view", 25},
    {"favorite", 10}, {"ad_placed", 8},        {"message_sent", 8},
    {"sale", 5},      {"message_received", 7}, {"password_reset", 2},
};

constexpr const char* kTimeZones[] = {"Europe/Amsterdam",    "America/New_York",  "Asia/Tokyo",
                                      "Australia/Lord_Howe", "America/Sao_Paulo", "UTC"};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

void pack_text(Packer& packer, std::string_view text) {
    packer.pack_str(static_cast<uint32_t>(text.size()));
    packer.pack_str_body(text.data(), static_cast<uint32_t>(text.size()));
}

// The map header and the fields every event has; with `attrs` the caller packs "attrs" and
// its map next.
void pack_event_fields(Packer& packer, std::string_view id, std::string_view customer,
                       std::string_view type, int64_t ts, bool attrs) {
    packer.pack_map(attrs ? 5 : 4);
    pack_text(packer, "id");
    pack_text(packer, id);
    pack_text(packer, "customer");
    pack_text(packer, customer);
    pack_text(packer, "type");
    pack_text(packer, type);
    pack_text(packer, "ts");
    packer.pack_uint64(static_cast<uint64_t>(ts));
}

// {"plan": "free"|"pro"}, 30% of the time with "tz", 20% with "consent" for push and email.
void pack_profile_attrs(Packer& packer, std::mt19937_64& random) {
    std::uniform_real_distribution<double> chance(0, 1);
    const bool with_tz = chance(random) < 0.3;
    const bool with_consent = chance(random) < 0.2;
    pack_text(packer, "attrs");
    packer.pack_map(1 + (with_tz ? 1 : 0) + (with_consent ? 1 : 0));
    pack_text(packer, "plan");
    pack_text(packer, chance(random) < 0.8 ? "free" : "pro");
    if (with_tz) {
        pack_text(packer, "tz");
        pack_text(packer, kTimeZones[random() % std::size(kTimeZones)]);
    }
    if (with_consent) {
        pack_text(packer, "consent");
        packer.pack_map(2);
        pack_text(packer, "push");
        chance(random) < 0.7 ? packer.pack_true() : packer.pack_false();
        pack_text(packer, "email");
        chance(random) < 0.9 ? packer.pack_true() : packer.pack_false();
    }
}

std::discrete_distribution<size_t> mix_distribution() {
    std::vector<double> weights;
    for (const WeightedType& t : kMix) weights.push_back(t.percent);
    return {weights.begin(), weights.end()};
}

void take_frame(const msgpack::sbuffer& buffer, uint32_t events, Frame& frame) {
    frame.body.assign(buffer.data(), buffer.size());
    frame.events = events;
}

}  // namespace

std::string customer_id(size_t index) {
    return "c" + std::to_string(index);
}

ZipfDistribution::ZipfDistribution(size_t n, double s) {
    if (n == 0) throw std::runtime_error("a Zipf population needs at least one customer");
    cumulative_.reserve(n);
    double total = 0;
    for (size_t k = 1; k <= n; ++k) cumulative_.push_back(total += 1.0 / std::pow(k, s));
    for (double& c : cumulative_) c /= total;
}

size_t ZipfDistribution::operator()(std::mt19937_64& random) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(random);
    const auto at = std::lower_bound(cumulative_.begin(), cumulative_.end(), u);
    return std::min<size_t>(at - cumulative_.begin(), cumulative_.size() - 1);
}

MarketplaceMix::MarketplaceMix(std::shared_ptr<const ZipfDistribution> customers, uint64_t seed,
                               std::string id_prefix, size_t batch, Accept accept,
                               std::optional<uint64_t> max_events)
    : customers_(std::move(customers)),
      random_(seed),
      type_(mix_distribution()),
      id_prefix_(std::move(id_prefix)),
      batch_(batch),
      accept_(std::move(accept)),
      max_events_(max_events) {}

bool MarketplaceMix::next(Frame& frame) {
    // next_id_ counts the events made so far.
    const size_t events =
        !max_events_ ? batch_
                     : static_cast<size_t>(std::min<uint64_t>(batch_, *max_events_ - next_id_));
    if (events == 0) return false;
    msgpack::sbuffer buffer;
    Packer packer(buffer);
    packer.pack_array(static_cast<uint32_t>(events));
    const int64_t ts = now_ms();
    for (size_t i = 0; i < events; ++i) {
        const std::string id = id_prefix_ + std::to_string(next_id_++);
        size_t rank = (*customers_)(random_);
        while (accept_ && !accept_(rank)) rank = (*customers_)(random_);
        const std::string customer = customer_id(rank);
        const std::string_view type = kMix[type_(random_)].type;
        const bool profile = type == "profile";
        pack_event_fields(packer, id, customer, type, ts, profile);
        if (profile) pack_profile_attrs(packer, random_);
    }
    take_frame(buffer, static_cast<uint32_t>(events), frame);
    return true;
}

EachCustomerOnce::EachCustomerOnce(size_t first, size_t stride, size_t count, size_t batch,
                                   std::function<std::string(size_t)> type_of,
                                   std::string id_prefix, size_t offset, bool named)
    : next_(first),
      stride_(stride),
      count_(count),
      batch_(batch),
      type_of_(std::move(type_of)),
      id_prefix_(std::move(id_prefix)),
      offset_(offset),
      named_(named) {}

bool EachCustomerOnce::next(Frame& frame) {
    if (next_ >= count_) return false;
    const size_t events = std::min(batch_, (count_ - next_ + stride_ - 1) / stride_);
    msgpack::sbuffer buffer;
    Packer packer(buffer);
    packer.pack_array(static_cast<uint32_t>(events));
    const int64_t ts = now_ms();
    for (size_t i = 0; i < events; ++i, next_ += stride_) {
        pack_event_fields(packer, id_prefix_ + std::to_string(next_), customer_id(next_ + offset_),
                          type_of_(next_), ts, named_);
        if (!named_) continue;
        pack_text(packer, "attrs");
        packer.pack_map(1);
        pack_text(packer, "as");
        pack_text(packer, customer_id(next_));
    }
    take_frame(buffer, static_cast<uint32_t>(events), frame);
    return true;
}

}  // namespace journeyd::bench
