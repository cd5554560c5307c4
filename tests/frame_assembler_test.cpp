// FrameAssembler (runtime/ingest/frame_assembler.hpp): the ingest stream cut into frames
// whatever way the socket delivered it, lengths outside 1..max_frame ending the framing for
// good, and a buffer that does not grow while frames are taken as they come.
#include "runtime/ingest/frame_assembler.hpp"

#include <malloc.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "state/codec/event_codec.hpp"

using namespace journeyd;

namespace {

std::string framed(const std::string& body) {
    return frame_header(static_cast<uint32_t>(body.size())) + body;
}

// What next() yields until it yields nothing: each body, or "!N" for an out-of-bounds length
// N. Bodies are copied at once, since a view lasts only until the next call.
std::vector<std::string> drain(FrameAssembler& assembler) {
    std::vector<std::string> taken;
    while (const std::optional<FrameAssembler::Frame> frame = assembler.next()) {
        if (frame->out_of_bounds) {
            CHECK(frame->body.empty());
            taken.push_back("!" + std::to_string(frame->length));
        } else {
            CHECK(frame->length == frame->body.size());
            taken.emplace_back(frame->body);
        }
    }
    return taken;
}

std::vector<std::string> feed(FrameAssembler& assembler, const std::string& bytes) {
    assembler.append(bytes.data(), bytes.size());
    return drain(assembler);
}

void append_all(std::vector<std::string>& to, const std::vector<std::string>& more) {
    to.insert(to.end(), more.begin(), more.end());
}

// Bytes in use on the heap, mmap'd blocks included (glibc).
size_t heap_in_use() {
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

}  // namespace

TEST_CASE("frames: a stream split at every byte boundary yields the same frames") {
    const std::vector<std::string> bodies = {"a", std::string(300, 'b'),
                                             std::string("\x00\x01\x02", 3), "xyz"};
    std::string stream;
    for (const std::string& body : bodies) stream += framed(body);
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
        FrameAssembler assembler(1024);
        std::vector<std::string> taken = feed(assembler, stream.substr(0, cut));
        append_all(taken, feed(assembler, stream.substr(cut)));
        INFO("cut at " << cut);
        CHECK(taken == bodies);
    }
}

TEST_CASE("frames: a byte at a time yields each frame once its last byte is in") {
    const std::vector<std::string> bodies = {"first", "second body", "3"};
    FrameAssembler assembler(64);
    std::vector<std::string> taken;
    for (const std::string& body : bodies) {
        const std::string bytes = framed(body);
        for (size_t i = 0; i < bytes.size(); ++i) {
            const std::vector<std::string> now = feed(assembler, bytes.substr(i, 1));
            CHECK(now.size() == (i + 1 == bytes.size() ? 1u : 0u));
            append_all(taken, now);
        }
    }
    CHECK(taken == bodies);
}

TEST_CASE("frames: many frames in one append come out in order") {
    std::vector<std::string> bodies;
    std::string stream;
    for (int i = 0; i < 5000; ++i) {
        bodies.push_back("frame " + std::to_string(i));
        stream += framed(bodies.back());
    }
    FrameAssembler assembler(64);
    CHECK(feed(assembler, stream) == bodies);
    CHECK_FALSE(assembler.next());
}

TEST_CASE("frames: a length of 0 is out of bounds once, then nothing more is framed") {
    FrameAssembler assembler(64);
    const std::string stream = framed("before") + frame_header(0) + framed("after");
    CHECK(feed(assembler, stream) == std::vector<std::string>{"before", "!0"});
    CHECK(feed(assembler, framed("later")).empty());
    CHECK_FALSE(assembler.next());
}

TEST_CASE("frames: a length over max_frame is out of bounds once, before its body arrives") {
    const uint32_t length = GENERATE(65u, 1u << 20, UINT32_MAX);
    FrameAssembler assembler(64);
    // Only the header: the oversize body is never waited for.
    CHECK(feed(assembler, framed("ok") + frame_header(length)) ==
          std::vector<std::string>{"ok", "!" + std::to_string(length)});
    CHECK(feed(assembler, std::string(100, 'x') + framed("more")).empty());
    CHECK_FALSE(assembler.next());
}

TEST_CASE("frames: a body of exactly max_frame is a frame, one byte more is not") {
    FrameAssembler exact(100);
    const std::string body(100, 'm');
    const std::string bytes = framed(body);
    CHECK(feed(exact, bytes.substr(0, bytes.size() - 1)).empty());
    CHECK(feed(exact, bytes.substr(bytes.size() - 1)) == std::vector<std::string>{body});

    FrameAssembler over(99);
    CHECK(feed(over, bytes) == std::vector<std::string>{"!100"});
}

TEST_CASE("frames: a body's view holds its bytes until the next call, across appends before") {
    FrameAssembler assembler(64);
    const std::string first = framed("one"), second = framed("two two");
    // The second frame's head arrives with the first and its tail in a later append, after the
    // first frame's bytes are dropped.
    const std::string bytes = first + second.substr(0, 6);
    assembler.append(bytes.data(), bytes.size());
    std::optional<FrameAssembler::Frame> frame = assembler.next();
    REQUIRE(frame);
    CHECK(frame->body == "one");
    CHECK_FALSE(assembler.next());
    assembler.append(second.data() + 6, second.size() - 6);
    frame = assembler.next();
    REQUIRE(frame);
    CHECK(frame->body == "two two");
    CHECK_FALSE(assembler.next());
}

TEST_CASE("frames: memory stays bounded while frames are taken as they come") {
    // 64 MiB of frames in 4 KiB reads, split anywhere: what is buffered is never more than one
    // read plus one partial frame, so the heap must not grow by anything like the stream.
    FrameAssembler assembler(1024);
    std::string stream;
    for (int i = 0; i < 200; ++i) stream += framed(std::string(1 + (i * 37) % 1000, 'a' + i % 26));
    const size_t before = heap_in_use();
    size_t frames = 0, total = 0;
    while (total < (64u << 20)) {
        for (size_t at = 0; at < stream.size(); at += 4096) {
            const size_t n = std::min<size_t>(4096, stream.size() - at);
            assembler.append(stream.data() + at, n);
            total += n;
            while (assembler.next()) ++frames;
        }
    }
    CHECK(frames > 100000);  // every frame of every pass came out
    CHECK(frames % 200 == 0);
    CHECK(heap_in_use() < before + (1u << 20));
}
