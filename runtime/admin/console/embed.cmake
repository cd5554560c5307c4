# Builds the console page the admin port serves at GET / from index.html, console.css and
# console.js: the stylesheet and the script are inlined where index.html links them, so the
# page stays one self-contained answer (nothing else to fetch, nothing to authorize), while
# the sources stay files an editor, a linter or a browser opened on index.html can read.
#   cmake -DCONSOLE_DIR=<this folder> -DOUTPUT=<generated .cpp> -P embed.cmake
file(READ "${CONSOLE_DIR}/index.html" page)
file(READ "${CONSOLE_DIR}/console.css" style)
file(READ "${CONSOLE_DIR}/console.js" script)

set(style_link "<link rel=\"stylesheet\" href=\"console.css\">\n")
set(script_link "<script src=\"console.js\"></script>\n")
foreach(link IN ITEMS style_link script_link)
  string(FIND "${page}" "${${link}}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "index.html must hold exactly this line: ${${link}}")
  endif()
endforeach()
string(REPLACE "${style_link}" "<style>\n${style}</style>\n" page "${page}")
string(REPLACE "${script_link}" "<script>\n${script}</script>\n" page "${page}")

set(delimiter "journeyd_console")
string(FIND "${page}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "the console's sources contain the raw string's end: )${delimiter}\"")
endif()
file(WRITE "${OUTPUT}" "// Generated from runtime/admin/console/ by embed.cmake: edit those files, not this.
#include \"runtime/admin/console_page.hpp\"

namespace journeyd {

std::string_view console_page() {
    static constexpr std::string_view kPage = R\"${delimiter}(${page})${delimiter}\";
    return kPage;
}

}  // namespace journeyd
")
