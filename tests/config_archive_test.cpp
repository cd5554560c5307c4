// The texts of the configurations journeyd ran under (config/config_archive.hpp).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "config/config_archive.hpp"
#include "config/config_version.hpp"
#include "tests/support/temp_dir.hpp"

using namespace journeyd;

TEST_CASE("a configuration's text is kept under its version and read back") {
    test::TempDir dir("archive");
    const ConfigArchive archive(dir.path());
    const std::string text = "[node]\nname = \"a\"\n";
    const std::string version = config_version(text);
    CHECK_FALSE(archive.text_of(version));
    CHECK(archive.keep(version, text).empty());
    CHECK(archive.text_of(version) == text);
    CHECK(std::filesystem::exists(dir.sub("configs/" + version + ".toml")));
    CHECK_FALSE(std::filesystem::exists(dir.sub("configs/" + version + ".toml.tmp")));
    // Kept already: a second start under the same version leaves the file as it is.
    CHECK(archive.keep(version, text).empty());
    CHECK(archive.text_of(version) == text);
    // Another archive of the same directory (the next start) reads it.
    CHECK(ConfigArchive(dir.path()).text_of(version) == text);
}

TEST_CASE("only versions are read: no other path can be named") {
    test::TempDir dir("archive");
    const ConfigArchive archive(dir.path());
    std::filesystem::create_directories(dir.sub("configs"));
    std::ofstream(dir.sub("secret.toml")) << "token = \"x\"";
    for (const char* name : {"../secret", "", "ABCDEF012345", "0123456789ab/", "0123456789a",
                             "0123456789abc", "..%2fsecret"})
        CHECK_FALSE(archive.text_of(name));
    CHECK_FALSE(archive.keep("../secret", "x").empty());
    CHECK(ConfigArchive::is_version("0123456789ab"));
}

TEST_CASE("a data directory that cannot be written is an error, not a crash") {
    const ConfigArchive archive("/proc/self/no-such-directory");
    const std::string version = config_version("x");
    const std::string error = archive.keep(version, "x");
    CHECK_FALSE(error.empty());
    CHECK(error.find("/proc/self/no-such-directory/configs") != std::string::npos);
}

TEST_CASE("the change in force is recorded over the version it replaced, and read back") {
    test::TempDir dir("archive");
    const ConfigArchive archive(dir.path());
    CHECK_FALSE(archive.in_force());
    const std::string started = config_version("a"), posted = config_version("b");
    CHECK(archive.set_in_force({posted, started}).empty());
    auto read = ConfigArchive(dir.path()).in_force();
    REQUIRE(read);
    CHECK(read->version == posted);
    CHECK(read->over == started);
    CHECK(archive.set_in_force({started, started}).empty());  // replaced whole
    CHECK(archive.in_force()->version == started);
    CHECK_FALSE(std::filesystem::exists(dir.sub("configs/in_force.tmp")));
    CHECK_FALSE(archive.set_in_force({"../x", started}).empty());
    // A damaged file reads as none: journeyd starts with its file.
    std::ofstream(dir.sub("configs/in_force")) << "not a version";
    CHECK_FALSE(archive.in_force());
}
