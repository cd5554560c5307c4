// An append-only log of opaque records, the durable half of LoggedStore
// (state/store/logged_store.hpp): a commit is acknowledged once its record is in the log and
// fdatasync'd, and the log is cut once a checkpoint has put its records into LMDB.
//
// On disk: segment files `<directory>/<first sequence, 20 digits>.log`; a new one is begun once
// the current one holds `segment_bytes`. A record is
//   [u32 payload length][u32 CRC-32 of sequence and payload][u64 sequence][payload]
// little-endian; sequences are consecutive from 1 across segments.
//
// Durability: append() only buffers and returns the record's sequence; sync() writes everything
// appended since the last sync() and fdatasync's it (one write and one fdatasync for the whole
// group: group commit). A record is durable once a sync() after its append() returned; with
// WalOptions::sync false it is written but not fdatasync'd (a process crash loses nothing, a
// machine crash can). open() reads every segment in order and hands each record after
// `replay_after` to the replay callback; at the first record that is torn (short) or corrupt
// (CRC or sequence wrong), it truncates that segment there and deletes the segments after it.
// Such a tail was never acknowledged: sync() had not returned for it, nor for anything after.
// release_through(seq) deletes the segments all of whose records are <= seq (never the one
// being appended to).
//
// Errors (I/O, a full disk) throw std::runtime_error naming the call and the file. A failed
// write or fdatasync, in sync() or in append() when it begins a new segment, is rolled back:
// the segment is truncated to its length before that write (truncating needs no free space)
// and fdatasync'd, what was appended since the last sync() is dropped, and the sequence goes
// back to the last record kept, so sequences stay consecutive; the error says that nothing
// appended since the last sync() was kept, and the log can be used again (a full disk that got
// space back takes the next sync()). Only if that rollback fails too is the log unusable: every
// later append() and sync() throws, saying to restart journeyd, whose replay then decides what
// reached the disk. A failure to begin a segment drops nothing: the old one was synced first,
// the append that needed the new one did not happen, and the next append tries again.
//
// Thread-safety: append() and sync() from one writer thread; release_through(), bytes() and
// last_sequence() from any thread (mutex_ guards the segment list and the file).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace journeyd {

struct WalOptions {
    bool sync = true;  // false: sync() writes but does not fdatasync
    uint64_t segment_bytes = uint64_t(64) << 20;
};

class WriteAheadLog {
  public:
    using Replay = std::function<void(uint64_t sequence, std::string_view payload)>;

    // Creates `directory` if missing (not its parents). Replays and cuts as described above.
    // On failure: nullptr, and `error` says why; an exception from `replay` propagates.
    static std::unique_ptr<WriteAheadLog> open(const std::string& directory,
                                               const WalOptions& options, uint64_t replay_after,
                                               const Replay& replay, std::string& error);
    ~WriteAheadLog();
    WriteAheadLog(const WriteAheadLog&) = delete;
    WriteAheadLog& operator=(const WriteAheadLog&) = delete;

    uint64_t append(std::string_view payload);
    void sync();
    void release_through(uint64_t sequence);

    // Bytes in the segments on disk plus those appended and not yet synced.
    uint64_t bytes() const;
    // The last sequence appended (0: none ever).
    uint64_t last_sequence() const;

  private:
    struct Segment {
        uint64_t first = 0;  // sequence of its first record (or of the next, while empty)
        uint64_t bytes = 0;
    };

    WriteAheadLog(std::string directory, const WalOptions& options);
    void recover(uint64_t replay_after, const Replay& replay);
    void begin_segment(uint64_t first);
    void write_and_sync();
    void write_buffer();
    [[noreturn]] void roll_back(uint64_t kept_bytes, const std::string& error);
    std::string path_of(uint64_t first) const;

    const std::string directory_;
    const WalOptions options_;
    mutable std::mutex mutex_;
    std::vector<Segment> segments_;  // oldest first; the last is appended to
    int fd_ = -1;                    // of segments_.back()
    std::string buffer_;             // appended, not yet written
    uint64_t last_sequence_ = 0;
    uint64_t kept_sequence_ = 0;  // the last sequence in the segment files, buffer_ aside
    std::string unusable_;        // why, once a rollback failed: every append and sync throws it
};

// CRC-32 (zlib's polynomial) of `bytes`, continuing from `crc`.
uint32_t crc32_of(std::string_view bytes, uint32_t crc = 0);

}  // namespace journeyd
