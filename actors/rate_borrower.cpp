#include "actors/rate_borrower.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"

namespace journeyd {
namespace {

struct Borrower {
    BorrowerSetup setup;
    TimeMs lease_until = 0;  // 0: on the floor
    TimeMs demand_since = 0;
    std::string last_failure;

    void apply(const ChannelRates& rates, TimeMs until) {
        lease_until = until;
        caf::anon_send(setup.coordinator, rate_atom::value, rates);
        setup.status->publish_rates(rates, until);
    }
};

}  // namespace

caf::behavior rate_borrower(caf::event_based_actor* self, BorrowerSetup setup) {
    auto b = std::make_shared<Borrower>();
    b->setup = std::move(setup);
    b->demand_since = b->setup.now();
    b->apply(b->setup.floor, 0);
    self->send(self, renew_lease_atom::value);
    return {
        [self, b](renew_lease_atom) {
            self->delayed_send(self, b->setup.every, renew_lease_atom::value);
            const TimeMs asked_at = b->setup.now();
            if (b->lease_until != 0 && asked_at >= b->lease_until) b->apply(b->setup.floor, 0);
            self->request(b->setup.coordinator, b->setup.every, demand_atom::value)
                .then([self, b, asked_at](const ChannelRates& asked) {
                    const double seconds = std::max<TimeMs>(1, asked_at - b->demand_since) / 1000.0;
                    b->demand_since = asked_at;
                    ChannelRates demand;
                    for (const auto& [channel, requests] : asked)
                        demand[channel] = requests / seconds;
                    self->request(b->setup.lender, b->setup.every, lease_atom::value,
                                  b->setup.member, encode_rates(demand))
                        .then(
                            [b, asked_at](const std::string& bytes) {
                                std::string error;
                                auto lease = decode_rates(bytes, error);
                                if (!lease) return;
                                ChannelRates rates = b->setup.floor;
                                for (auto& [channel, rate] : rates) {
                                    auto granted = lease->find(channel);
                                    if (granted != lease->end()) rate += granted->second;
                                }
                                b->last_failure.clear();
                                b->apply(rates, asked_at + b->setup.term);
                            },
                            [self, b](caf::error& error) {
                                const std::string why = describe(self->system(), error);
                                // Expected while the lender starts or is down (its
                                // peer warns about that): once per reason.
                                if (why != b->last_failure)
                                    spdlog::info(
                                        "cluster: no rate lease, budgets stay at the "
                                        "floor: {}",
                                        why);
                                b->last_failure = why;
                            });
                });
        },
    };
}

}  // namespace journeyd
