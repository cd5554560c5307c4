#include "actors/customer_shard.hpp"

#include <spdlog/spdlog.h>
#include <unordered_map>

#include "actors/messages.hpp"
#include "state/stable_hash.hpp"

namespace journeyd {

caf::behavior customer_shard(caf::event_based_actor* self,
                             std::shared_ptr<const CustomerContext> context) {
    using Registry = std::unordered_map<std::string, caf::actor>;
    auto customers = std::make_shared<Registry>();
    auto by_address = std::make_shared<std::unordered_map<caf::actor_addr, std::string>>();
    self->set_down_handler([customers, by_address, context](caf::down_msg& down) {
        auto it = by_address->find(down.source);
        if (it == by_address->end()) return;
        --context->metrics->customers_live;
        spdlog::warn("customer actor ended customer={} reason={}", it->second,
                     caf::to_string(down.reason));
        customers->erase(it->second);
        by_address->erase(it);
    });
    // Customers are not linked to their shard (one failing customer must not take its shard
    // down), so the shard ends them itself when it ends.
    self->attach_functor([customers] {
        for (auto& [id, actor] : *customers)
            caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    });
    return {
        [self, customers, by_address, context](event_atom atom, Event& event) {
            auto it = customers->find(event.customer);
            if (it == customers->end()) {
                auto actor = self->spawn<caf::lazy_init>(customer_actor, context, event.customer);
                self->monitor(actor);
                ++context->metrics->customers_live;
                by_address->emplace(actor.address(), event.customer);
                it = customers->emplace(event.customer, std::move(actor)).first;
            }
            return self->delegate(it->second, atom, std::move(event));
        },
        [self, customers](lookup_atom atom, const std::string& id) -> caf::result<caf::message> {
            auto it = customers->find(id);
            if (it == customers->end()) return caf::make_message(CustomerLookup{});
            return self->delegate(it->second, atom);
        },
        [customers](lookup_atom) { return customers->size(); },
    };
}

ShardRouter::ShardRouter(caf::actor_system& system, std::shared_ptr<const CustomerContext> context,
                         size_t shard_count) {
    for (size_t i = 0; i < std::max<size_t>(1, shard_count); ++i)
        shards_.push_back(system.spawn(customer_shard, context));
}

const caf::actor& ShardRouter::shard_for(std::string_view customer) const {
    // Salted so shard choice is independent of other uses of the same hash.
    return shards_[stable_hash(customer, stable_hash("shard")) % shards_.size()];
}

}  // namespace journeyd
