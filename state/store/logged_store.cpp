#include "state/store/logged_store.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "state/store/store_record_codec.hpp"
#include "state/store/test_kill_point.hpp"
#include "state/thread_name.hpp"

namespace journeyd {

std::unique_ptr<LoggedStore> LoggedStore::open(const std::string& directory,
                                               const LoggedStoreOptions& options,
                                               std::string& error) {
    std::unique_ptr<LoggedStore> store(new LoggedStore(options));
    try {
        store->open_files(directory);
    } catch (const std::exception& e) {
        error = e.what();
        return nullptr;
    }
    store->thread_ = std::thread([raw = store.get()] { raw->run_checkpoints(); });
    return store;
}

namespace {

// What commit() throws, and write_error() says, while checkpoints fail.
std::string refused(const std::string& checkpoint_error) {
    return "store not writable, checkpoint failing: " + checkpoint_error;
}

}  // namespace

void LoggedStore::open_files(const std::string& directory) {
    std::string error;
    lmdb_ = LmdbStore::open(directory, LmdbOptions{options_.sync, options_.max_size}, error);
    if (!lmdb_) throw std::runtime_error(error);
    const uint64_t through = lmdb_->snapshot()->log_through();
    active_ = std::make_unique<StoreOverlay>(through);
    log_ = WriteAheadLog::open(
        directory + "/wal", WalOptions{options_.sync, options_.segment_bytes}, through,
        [this](uint64_t sequence, std::string_view payload) {
            apply_to_active(decode_batch(payload), sequence);
        },
        error);
    if (!log_) throw std::runtime_error("store " + directory + ": " + error);
    // What was replayed goes to LMDB now, so the log is short again before the first commit.
    // A full store fails here and is opened all the same, for reads: see the header.
    try {
        checkpoint();
    } catch (const std::exception&) {
    }
}

LoggedStore::~LoggedStore() {
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    // A checkpoint now only makes the next start shorter: the log holds it all anyway. A
    // failure was told on_error (the same one was told already).
    try {
        if (log_) checkpoint();
    } catch (const std::exception&) {
    }
}

void LoggedStore::commit(const std::vector<StoreRecord>& batch) {
    std::unique_lock<std::mutex> commit_lock(commit_mutex_);
    {
        std::unique_lock<std::shared_mutex> lock(state_mutex_);
        for (;;) {
            if (!checkpoint_error_.empty()) throw std::runtime_error(refused(checkpoint_error_));
            if (!frozen_ || active_->records() < options_.stall_records) break;
            unfrozen_.wait_for(lock, std::chrono::milliseconds(100));
        }
    }
    uint64_t sequence = 0;
    try {
        encode_batch(batch, encoded_);
        sequence = log_->append(encoded_);
        log_->sync();
    } catch (const std::exception& e) {
        std::unique_lock<std::shared_mutex> lock(state_mutex_);
        commit_error_ = e.what();
        throw;
    }
    if (!commit_error_.empty()) {
        std::unique_lock<std::shared_mutex> lock(state_mutex_);
        commit_error_.clear();
    }
    apply_to_active(batch, sequence);
    const bool due = active_->records() >= options_.checkpoint_records ||
                     log_->bytes() >= options_.checkpoint_log_bytes;
    commit_lock.unlock();
    if (!due) return;
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        wanted_ = true;
    }
    wake_.notify_all();
}

void LoggedStore::apply_to_active(const std::vector<StoreRecord>& batch, uint64_t sequence) {
    // A group commit of thousands of records takes milliseconds to apply; readers (customer
    // activations, the coordinator's history reads) get in between slices, not after all.
    constexpr size_t kSlice = 256;
    const StoreOverlay::Plan plan = StoreOverlay::plan(batch);
    for (size_t begin = 0; begin < batch.size(); begin += kSlice) {
        std::unique_lock<std::shared_mutex> lock(state_mutex_);
        active_->apply_slice(batch, plan, begin, std::min(batch.size(), begin + kSlice));
    }
    std::unique_lock<std::shared_mutex> lock(state_mutex_);
    active_->finish(sequence);
}

std::optional<std::string> LoggedStore::read(const std::string& customer) const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    for (const StoreOverlay* overlay : {active_.get(), frozen_.get()})
        if (overlay != nullptr)
            if (const auto* found = overlay->customer(customer)) return found->record;
    return lmdb_->read(customer);
}

std::optional<std::string> LoggedStore::read(Table table, const std::string& key) const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    for (const StoreOverlay* overlay : {active_.get(), frozen_.get()})
        if (overlay != nullptr)
            if (const auto* entry = overlay->entry(table, key)) return entry->value;
    return lmdb_->read(table, key);
}

std::vector<std::pair<std::string, std::string>> LoggedStore::read_all(Table table) const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    std::map<std::string, std::string> merged;
    for (auto& [key, value] : lmdb_->read_all(table))
        merged.emplace(std::move(key), std::move(value));
    // Oldest first, so the newest overlay's entry is the one left.
    for (const StoreOverlay* overlay : {frozen_.get(), active_.get()}) {
        if (overlay == nullptr) continue;
        for (const auto& [key, entry] : overlay->entries(table)) {
            if (entry.value)
                merged[key] = *entry.value;
            else
                merged.erase(key);
        }
    }
    return {merged.begin(), merged.end()};
}

std::vector<DueTimer> LoggedStore::timers_due(TimeMs until, size_t limit,
                                              const std::optional<DueTimer>& after) const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    std::unique_ptr<LmdbStore::Snapshot> snapshot;  // begun only if a lookup needs it
    // A customer's entry: the overlays' composed operations, newest first, over LMDB's entry
    // (store_overlay.hpp). An entry a layer lists is the customer's only if it is this one.
    auto effective_due = [&](const std::string& customer) -> std::optional<TimeMs> {
        std::optional<TimeMs> bound;
        for (const StoreOverlay* overlay : {active_.get(), frozen_.get()}) {
            if (overlay == nullptr) continue;
            const StoreOverlay::Customer* held = overlay->customer(customer);
            if (held == nullptr) continue;
            if (!held->lower_bound) return earlier_due(bound, held->due);
            bound = earlier_due(bound, held->due);
        }
        if (!snapshot) snapshot = lmdb_->snapshot();
        return earlier_due(bound, snapshot->indexed_due(customer));
    };
    auto held_above = [&](const std::string& customer) {
        return active_->customer(customer) != nullptr ||
               (frozen_ && frozen_->customer(customer) != nullptr);
    };
    // Each layer's first `limit` entries that are their customers' entries: among them are the
    // first `limit` of all.
    std::vector<DueTimer> due;
    for (const StoreOverlay* overlay : {active_.get(), frozen_.get()}) {
        if (overlay == nullptr) continue;
        const auto& index = overlay->index();
        auto it = after ? index.upper_bound({after->due, after->customer}) : index.begin();
        for (size_t taken = 0; it != index.end() && it->first <= until && taken < limit; ++it) {
            if (effective_due(it->second) != it->first) continue;
            due.push_back({it->first, it->second});
            ++taken;
        }
    }
    // LMDB in slices, since entries that are not their customers' do not count towards it.
    std::optional<DueTimer> from = after;
    for (size_t taken = 0; taken < limit;) {
        const std::vector<DueTimer> slice = lmdb_->timers_due(until, limit, from);
        for (const DueTimer& timer : slice) {
            if (taken == limit) break;
            if (held_above(timer.customer) && effective_due(timer.customer) != timer.due) continue;
            due.push_back(timer);
            ++taken;
        }
        if (slice.size() < limit) break;
        from = slice.back();
    }
    auto key = [](const DueTimer& t) { return std::tie(t.due, t.customer); };
    std::sort(due.begin(), due.end(),
              [&](const DueTimer& a, const DueTimer& b) { return key(a) < key(b); });
    // Two layers may name the same entry (a bound equal to the entry below).
    due.erase(std::unique(due.begin(), due.end(),
                          [&](const DueTimer& a, const DueTimer& b) { return key(a) == key(b); }),
              due.end());
    if (due.size() > limit) due.resize(limit);
    return due;
}

bool LoggedStore::was_applied(const std::string& customer, uint64_t event_fingerprint) const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    for (const StoreOverlay* overlay : {active_.get(), frozen_.get()})
        if (overlay != nullptr && overlay->was_applied(customer, event_fingerprint)) return true;
    return lmdb_->was_applied(customer, event_fingerprint);
}

size_t LoggedStore::forget_applied_before(TimeMs cutoff, size_t limit) {
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        purge_request_ = {cutoff, limit};
        wanted_ = true;
    }
    wake_.notify_all();
    return 0;
}

StoreStats LoggedStore::stats() const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    const auto snapshot = lmdb_->snapshot();
    StoreStats stats = snapshot->stats();
    // The frozen overlay may be in LMDB already (its checkpoint commits while we read); the
    // same transaction's log_through says whether.
    if (frozen_ && snapshot->log_through() < frozen_->last_sequence()) frozen_->add_to(stats);
    active_->add_to(stats);
    stats.bytes += log_->bytes();
    return stats;
}

std::string LoggedStore::write_error() const {
    std::shared_lock<std::shared_mutex> lock(state_mutex_);
    if (!checkpoint_error_.empty()) return refused(checkpoint_error_);
    return commit_error_;
}

void LoggedStore::checkpoint() {
    std::lock_guard<std::mutex> one_at_a_time(checkpoint_mutex_);
    checkpoint_once();
    purge();
}

void LoggedStore::run_checkpoints() {
    name_this_thread("checkpoint");
    // Background work whose only deadline is stall_records: the threads that answer events
    // and decide contacts go first when the cores are busy (Linux nices a thread by its id).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
    std::unique_lock<std::mutex> lock(wake_mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, options_.checkpoint_every, [this] { return stopping_ || wanted_; });
        if (stopping_) return;
        wanted_ = false;
        lock.unlock();
        try {
            checkpoint();
        } catch (const std::exception&) {
            // Told on_error already, if it was news; tried again after checkpoint_every.
        }
        lock.lock();
    }
}

void LoggedStore::tell_error(const std::string& error) const {
    if (options_.on_error) options_.on_error(error);
}

// Under checkpoint_mutex_.
void LoggedStore::checkpoint_once() {
    {
        std::lock_guard<std::mutex> between_commits(commit_mutex_);
        std::unique_lock<std::shared_mutex> lock(state_mutex_);
        if (!frozen_ && !active_->empty()) {
            frozen_ = std::move(active_);
            active_ = std::make_unique<StoreOverlay>(frozen_->last_sequence());
        }
    }
    // Only this function, under checkpoint_mutex_, replaces frozen_.
    if (!frozen_) return;
    try {
        lmdb_->write_coalesced(frozen_->coalesced());
    } catch (const std::exception& e) {
        bool news = false;
        {
            std::unique_lock<std::shared_mutex> lock(state_mutex_);
            news = checkpoint_error_ != e.what();
            checkpoint_error_ = e.what();
        }
        unfrozen_.notify_all();  // a stalled commit gives up now
        // Once per failure, not at every retry: a full store fails every checkpoint_every.
        if (news)
            tell_error("checkpoint failing, commits refused until one succeeds: " +
                       std::string(e.what()));
        throw;
    }
    kill_point("checkpoint_written");
    const uint64_t through = frozen_->last_sequence();
    std::unique_ptr<StoreOverlay> written;
    bool recovered = false;
    {
        std::unique_lock<std::shared_mutex> lock(state_mutex_);
        written = std::move(frozen_);
        recovered = !checkpoint_error_.empty();
        checkpoint_error_.clear();
    }
    // Freeing a second of commits takes milliseconds: not while every reader waits.
    written.reset();
    unfrozen_.notify_all();
    if (recovered && options_.on_recovered) options_.on_recovered();
    try {
        log_->release_through(through);
    } catch (const std::exception& e) {
        // The next checkpoint releases these segments with its own.
        tell_error(std::string("releasing the write-ahead log: ") + e.what());
        throw;
    }
    kill_point("log_released");
}

void LoggedStore::purge() {
    std::optional<std::pair<TimeMs, size_t>> request;
    {
        std::lock_guard<std::mutex> lock(wake_mutex_);
        request = std::exchange(purge_request_, std::nullopt);
    }
    if (!request || request->second == 0) return;
    try {
        while (lmdb_->forget_applied_before(request->first, request->second) == request->second) {
        }
    } catch (const std::exception& e) {
        // The store writer asks again within a minute.
        tell_error(std::string("purging applied event ids: ") + e.what());
        throw;
    }
}

}  // namespace journeyd
