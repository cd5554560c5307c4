#include "actors/ingest_relay.hpp"

#include <algorithm>

namespace journeyd {
namespace {

// The events of one frame for one shard or one other member, sent together.
struct Batch {
    caf::actor to;
    std::vector<Event> events;
    std::vector<size_t> slots;  // their places in the frame's FrameResults
};

// The results of one frame's events as they come in; reported together once all are in, so
// that the connection gets one hand-over a frame rather than one an event.
struct FrameResults {
    uint64_t seq = 0;
    std::vector<uint32_t> index;  // positions in the frame, in the order the events were sent
    std::vector<EventResult> results;
    size_t outstanding = 0;
};

}  // namespace

caf::behavior ingest_relay(caf::event_based_actor* self,
                           std::shared_ptr<const IngestContext> context, IngestReport report) {
    return {[self, context, report](IngestFrame& frame) {
        auto gathered = std::make_shared<FrameResults>();
        gathered->seq = frame.seq;
        gathered->index = std::move(frame.index);
        gathered->results.resize(frame.events.size());
        gathered->outstanding = frame.events.size();
        // Results for the events at `slots` (positions in gathered->index).
        auto record = [report, gathered, metrics = context->metrics](
                          const size_t* slots, const EventResult* results, size_t n) {
            for (size_t k = 0; k < n; ++k) {
                metrics->events_rejected += !results[k].error.empty();
                gathered->results[slots[k]] = results[k];
            }
            gathered->outstanding -= n;
            if (gathered->outstanding == 0)
                report(gathered->seq, gathered->index.data(), gathered->results.data(),
                       gathered->results.size());
        };
        const auto failure = [self](const caf::error& error) {
            EventResult failed;
            failed.error = describe(self->system(), error);
            return failed;
        };
        // One batch per destination: a shard of this node, or the peer of another member.
        std::vector<Batch> batches;
        for (size_t i = 0; i < frame.events.size(); ++i) {
            Event& event = frame.events[i];
            const caf::actor& owner = context->router.route(event.customer).to;
            auto batch = std::find_if(batches.begin(), batches.end(),
                                      [&](const Batch& b) { return b.to == owner; });
            if (batch == batches.end()) {
                batches.emplace_back();
                batches.back().to = owner;
                batch = std::prev(batches.end());
            }
            batch->events.push_back(std::move(event));
            batch->slots.push_back(i);
        }
        for (Batch& batch : batches) {
            self->request(batch.to, context->limits.event_timeout, event_atom::value,
                          std::move(batch.events))
                .then(
                    [record, slots = batch.slots](std::vector<EventResult>& results) {
                        EventResult missing;
                        missing.error = "no result from the owner";
                        results.resize(slots.size(), missing);
                        record(slots.data(), results.data(), slots.size());
                    },
                    [record, slots = batch.slots, failure](caf::error& error) {
                        const std::vector<EventResult> failed(slots.size(), failure(error));
                        record(slots.data(), failed.data(), slots.size());
                    });
        }
    }};
}

}  // namespace journeyd
