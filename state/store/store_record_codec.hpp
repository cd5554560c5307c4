// The bytes of one committed batch of StoreRecords in the write-ahead log
// (state/store/write_ahead_log.hpp): every field of every record, in order, so that replaying a
// batch is committing it again; but a customer's state only once. A record with a later record
// of the same customer in the batch is written without its body and flagged superseded: the
// store keeps only a customer's last state of a batch anyway, and at peak ingest four records in
// ten of a group commit are such (a customer with several events in it).
//
// Encoding: a version byte (2; 1 was the same without superseded records, and is still read),
// then u32 record count and per record: customer, record (each u32 length + bytes; empty when
// superseded), a flags byte (1 next_due, 2 index_lower_bound, 4 applied_event, 8 stage_move,
// 16 segment_moves, 32 counter_changes, 64 superseded), next_due (i64) if flagged,
// applied_event (u64) if flagged, applied_at (i64), the stage move's two names if flagged, the
// segment moves if flagged (u32 count, then per move its name and a byte 1 for entered, 0 for
// left), the counter changes if flagged (u32 count, then per change its key and i64), u32 write
// count and per write: table (u8), a byte 1 when it has a value, key, value if any. Integers are
// little-endian. The log's CRC guards the bytes; decode throws std::runtime_error on bytes that
// are not such a batch all the same.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "state/store/record_store.hpp"

namespace journeyd {

// Replaces `out`'s bytes, keeping its capacity: the log's writer encodes every commit into the
// same buffer, where a fresh one of megabytes would be paged in anew each time.
void encode_batch(const std::vector<StoreRecord>& batch, std::string& out);
std::vector<StoreRecord> decode_batch(std::string_view bytes);

}  // namespace journeyd
