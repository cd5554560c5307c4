#include "actors/ingest_relay.hpp"

#include <algorithm>

namespace journeyd {
namespace {

// The events of one frame for one other member, sent to its peer together.
struct Forwarded {
    caf::actor peer;
    std::vector<Event> events;
    std::vector<uint32_t> index;  // their positions in the frame
};

}  // namespace

caf::behavior ingest_relay(caf::event_based_actor* self,
                           std::shared_ptr<const IngestContext> context, IngestReport report) {
    return {[self, context, report](IngestFrame& frame) {
        const uint64_t seq = frame.seq;
        auto record = [report, seq, metrics = context->metrics](
                          const uint32_t* index, const EventResult* results, size_t n) {
            for (size_t k = 0; k < n; ++k) metrics->events_rejected += !results[k].error.empty();
            report(seq, index, results, n);
        };
        const auto failure = [self](const caf::error& error) {
            EventResult failed;
            failed.error = describe(self->system(), error);
            return failed;
        };
        // Events of customers another member owns go to its peer in one batch per member.
        std::vector<Forwarded> forwarded;
        for (size_t i = 0; i < frame.events.size(); ++i) {
            Event& event = frame.events[i];
            const uint32_t index = frame.index[i];
            const CustomerRouter::Route owner = context->router.route(event.customer);
            if (!owner.local) {
                auto batch = std::find_if(forwarded.begin(), forwarded.end(),
                                          [&](const Forwarded& f) { return f.peer == owner.to; });
                if (batch == forwarded.end()) {
                    forwarded.emplace_back();
                    forwarded.back().peer = owner.to;
                    batch = std::prev(forwarded.end());
                }
                batch->events.push_back(std::move(event));
                batch->index.push_back(index);
                continue;
            }
            self->request(owner.to, context->limits.event_timeout, event_atom::value,
                          std::move(event))
                .then(
                    [record, index](EventOutcome outcome) {
                        EventResult result;
                        result.duplicate = outcome == EventOutcome::duplicate;
                        record(&index, &result, 1);
                    },
                    [record, index, failure](caf::error& error) {
                        const EventResult failed = failure(error);
                        record(&index, &failed, 1);
                    });
        }
        for (Forwarded& batch : forwarded) {
            self->request(batch.peer, context->limits.event_timeout, event_atom::value,
                          std::move(batch.events))
                .then(
                    [record, index = batch.index](std::vector<EventResult>& results) {
                        EventResult missing;
                        missing.error = "no result from the owner";
                        results.resize(index.size(), missing);
                        record(index.data(), results.data(), index.size());
                    },
                    [record, index = batch.index, failure](caf::error& error) {
                        const std::vector<EventResult> failed(index.size(), failure(error));
                        record(index.data(), failed.data(), index.size());
                    });
        }
    }};
}

}  // namespace journeyd
