#include "runtime/admin/actor_admin_backend.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "state/codec/pressure_codec.hpp"

namespace journeyd {

template <class Answer, class... Message>
Answer ActorAdminBackend::ask(const caf::actor& whom, Message&&... message) {
    caf::scoped_actor self{*setup_.system};
    std::optional<Answer> answer;
    std::string failure;
    self->request(whom, setup_.timeout, std::forward<Message>(message)...)
        .receive([&](Answer& a) { answer = std::move(a); },
                 [&](caf::error& e) { failure = describe(*setup_.system, e); });
    if (!answer) throw BackendUnavailable(failure);
    return std::move(*answer);
}

std::optional<CustomerView> ActorAdminBackend::customer(const std::string& id) {
    auto found = ask<CustomerLookup>(setup_.router.customer(id), lookup_atom::value, id);
    if (!found.found) return std::nullopt;
    return CustomerView{std::move(found.state), std::move(found.aliases), std::move(found.under)};
}

std::vector<Contact> ActorAdminBackend::contacts(const std::string& id) {
    return ask<std::vector<Contact>>(setup_.router.coordinator(id), contacts_atom::value, id);
}

std::vector<Decision> ActorAdminBackend::decisions(const std::string& id) {
    return ask<std::vector<Decision>>(setup_.router.coordinator(id), decisions_atom::value, id);
}

std::optional<std::string> ActorAdminBackend::stored_record(const std::string& id) {
    if (setup_.router.is_local(id)) return setup_.store->read(id);
    return ask<StoredRecord>(setup_.router.customer(id), record_atom::value, id).bytes;
}

EventOutcome ActorAdminBackend::apply(Event event) {
    const CustomerRouter::Route owner = setup_.router.route(event.customer);
    if (owner.local) {
        try {
            return ask<EventOutcome>(owner.to, event_atom::value, std::move(event));
        } catch (const BackendUnavailable& e) {
            if (refused_event(e.what())) throw EventRefused(e.what());
            throw;
        }
    }
    const auto results =
        ask<std::vector<EventResult>>(owner.to, event_atom::value, std::vector<Event>{event});
    if (results.size() == 1 && refused_event(results[0].error))
        throw EventRefused(results[0].error);
    if (results.size() != 1 || !results[0].error.empty())
        throw BackendUnavailable(results.empty() ? "no result from the owner" : results[0].error);
    return results[0].duplicate ? EventOutcome::duplicate : EventOutcome::accepted;
}

CoordinatorStats ActorAdminBackend::decision_stats() {
    return ask<CoordinatorStats>(setup_.coordinator, stats_atom::value);
}

StoreStats ActorAdminBackend::store_stats() {
    return setup_.store->stats();
}

std::string ActorAdminBackend::store_write_error() {
    return setup_.store->write_error();
}

SinkStats ActorAdminBackend::sink_stats() {
    return setup_.sink->stats();
}

std::vector<DeadLetter> ActorAdminBackend::dead_letters() {
    std::vector<DeadLetter> all;
    std::string error;
    for (const auto& [id, bytes] : setup_.store->read_all(Table::dead_letters)) {
        if (auto dead = decode_dead_letter(bytes, error))
            all.push_back(std::move(*dead));
        else
            spdlog::error("dead letter unreadable id={} error={}", id, error);
    }
    return all;
}

bool ActorAdminBackend::redeliver(const std::string& decision_id) {
    return ask<bool>(setup_.coordinator, redeliver_atom::value, decision_id);
}

ClusterView ActorAdminBackend::cluster() {
    return setup_.cluster();
}

ClusterCounters ActorAdminBackend::cluster_counters() {
    ClusterCounters counters;
    counters.summed = setup_.store->stats().counters;
    const auto peers = setup_.router.peers();
    if (peers.empty()) return counters;
    // Each peer answers within forward_timeout, with the counters or an error; the margin
    // lets its answer, not our own timeout, decide also on a busy scheduler.
    const auto deadline = setup_.forward_timeout + std::chrono::seconds(1);
    caf::scoped_actor self{*setup_.system};
    // Every member is asked before any answer is awaited, so the answers come in parallel and
    // the wait is the slowest member's, not the sum of all.
    using Asked = decltype(self->request(peers[0].second, deadline, counters_atom::value));
    std::vector<Asked> asked;
    for (const auto& [name, peer] : peers)
        asked.push_back(self->request(peer, deadline, counters_atom::value));
    for (size_t i = 0; i < asked.size(); ++i)
        asked[i].receive(
            [&](StoreCounters& theirs) {
                for (const auto& [key, count] : theirs) counters.summed[key] += count;
            },
            [&](caf::error&) { counters.partial.push_back(peers[i].first); });
    return counters;
}

}  // namespace journeyd
