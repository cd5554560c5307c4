#include "actors/store_writer.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"

namespace journeyd {
namespace {

struct PendingBatch {
    std::vector<StoreRecord> records;
    std::vector<std::pair<caf::response_promise, EventOutcome>> answers;
    bool flush_scheduled = false;
};

}  // namespace

caf::behavior store_writer(caf::event_based_actor* self, std::shared_ptr<RecordStore> store,
                           GroupCommit limits, AppliedIdRetention retention) {
    auto batch = std::make_shared<PendingBatch>();
    auto flush = [self, store, batch] {
        batch->flush_scheduled = false;
        if (batch->records.empty()) return;
        const auto started = std::chrono::steady_clock::now();
        try {
            store->commit(batch->records);
            for (auto& [promise, outcome] : batch->answers) promise.deliver(outcome);
        } catch (const std::exception& e) {
            // Nothing of the batch is durable: its events must not be acknowledged.
            spdlog::error("store commit failed records={} error={}", batch->records.size(),
                          e.what());
            for (auto& [promise, outcome] : batch->answers)
                promise.deliver(caf::make_error(caf::sec::runtime_error, e.what()));
        }
        spdlog::debug("store commit records={} us={}", batch->records.size(),
                      std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count());
        batch->records.clear();
        batch->answers.clear();
    };
    self->attach_functor([flush] { flush(); });
    self->send(self, purge_atom::value);  // what was gathered still gets committed
    return {
        [self, batch, flush, limits](commit_atom, StoreRecord& record, EventOutcome outcome) {
            batch->records.push_back(std::move(record));
            // Only requests get an answer: "answering" a plain send would reach the sender
            // as an unexpected response, which it reflects back as an error.
            auto promise = self->make_response_promise();
            if (!promise.async()) batch->answers.emplace_back(std::move(promise), outcome);
            if (batch->records.size() >= limits.max_batch) {
                flush();
            } else if (!batch->flush_scheduled) {
                batch->flush_scheduled = true;
                self->delayed_send(self, limits.max_delay, flush_atom::value);
            }
        },
        [flush](flush_atom) { flush(); },
        [self](drain_atom) { self->quit(); },
        [self, store, retention](purge_atom) {
            try {
                const size_t forgotten = store->forget_applied_before(
                    retention.now() - retention.keep, retention.purge_slice);
                if (forgotten > 0) spdlog::info("applied event ids forgotten count={}", forgotten);
                // A full slice means more are due: the next slice after the batches queued now.
                if (forgotten == retention.purge_slice) {
                    self->send(self, purge_atom::value);
                    return;
                }
            } catch (const std::exception& e) {
                spdlog::error("purging applied event ids failed error={}", e.what());
            }
            self->delayed_send(self, retention.purge_every, purge_atom::value);
        },
    };
}

std::function<void(std::vector<std::string>)> forget_delivered(caf::actor store_writer) {
    return [store_writer](std::vector<std::string> decision_ids) {
        std::vector<TableWrite> erase;
        for (std::string& id : decision_ids)
            erase.push_back({Table::outbox, std::move(id), std::nullopt});
        caf::anon_send(store_writer, commit_atom::value, table_writes(std::move(erase)),
                       EventOutcome::accepted);
    };
}

}  // namespace journeyd
