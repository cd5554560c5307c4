# Sourced by scripts/run and scripts/test: installs the Debian packages journeyd builds
# against (and, for the tests, runs them with), only those that are missing, so a second
# run costs nothing.
journeyd_packages=(
    cmake g++ make pkg-config tzdata
    libcaf-dev libmsgpack-cxx-dev libboost-dev liblmdb-dev libspdlog-dev libfmt-dev
    catch2 libtomlplusplus-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev
    libhowardhinnant-date-dev libasio-dev libssl-dev zlib1g-dev libmimalloc-dev
)
# Only the tests need these: headless Chromium drives the console page; clang with
# libFuzzer (libclang-rt) builds the fuzzers of tests/fuzz/; prometheus brings promtool,
# which checks /metrics (metrics_promtool); openssl's s_client is the TLS client of the
# TLS tests; python3-msgpack runs examples/event_source.py, a TLS client of its own.
journeyd_test_packages=(chromium clang libclang-rt-14-dev prometheus openssl python3-msgpack)

# install_missing_packages PACKAGE...
install_missing_packages() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build_release() {
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build -j "$(nproc)"
}
