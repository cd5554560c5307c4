#include "runtime/console_page.hpp"

namespace journeyd {
namespace {

constexpr std::string_view kPage = R"(<!doctype html>
<html><head><meta charset="utf-8"><title>journeyd</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}</style>
</head><body><h1>journeyd</h1><p>Live statistics (refreshed every 2 s):</p><pre id="stats">…</pre>
<script>
async function refresh(){const r=await fetch('/stats',{headers:token()});
document.getElementById('stats').textContent=r.ok?JSON.stringify(await r.json(),null,2):r.status+' '+await r.text();}
function token(){const t=sessionStorage.getItem('token');return t?{Authorization:'Bearer '+t}:{};}
refresh();setInterval(refresh,2000);
</script></body></html>)";

}  // namespace

std::string_view console_page() {
    return kPage;
}

}  // namespace journeyd
