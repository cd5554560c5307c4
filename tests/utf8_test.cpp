#include "state/codec/utf8.hpp"

#include <catch2/catch.hpp>
#include <string>

using journeyd::is_valid_utf8;

TEST_CASE("utf8: well-formed text of every sequence length is valid") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("Zo\xc3\xab"));                    // U+00EB
    CHECK(is_valid_utf8("\xe2\x82\xac"));                  // U+20AC
    CHECK(is_valid_utf8("\xf0\x9f\x98\x80"));              // U+1F600
    CHECK(is_valid_utf8("\xef\xbf\xbf\xf4\x8f\xbf\xbf"));  // U+FFFF, U+10FFFF
    CHECK(is_valid_utf8(std::string("a\0b", 3)));          // NUL is a character
}

TEST_CASE("utf8: stray, truncated, overlong, surrogate and out-of-range bytes are not") {
    CHECK_FALSE(is_valid_utf8("\x80"));  // continuation without a lead
    CHECK_FALSE(is_valid_utf8("\xff\xfe"));
    CHECK_FALSE(is_valid_utf8("\xc3"));  // truncated
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));
    CHECK_FALSE(is_valid_utf8("\xc3\x28"));  // bad continuation
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));  // overlong "/"
    CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));
    CHECK_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // U+D800, a surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
    CHECK_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
}
