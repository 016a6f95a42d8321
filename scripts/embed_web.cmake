# Writes OUTPUT: a C++ file holding every file under WEB_DIR as bytes, so the binary serves its
# web UI from memory. Run by the build whenever a file under web/ changes.
file(GLOB_RECURSE files RELATIVE "${WEB_DIR}" "${WEB_DIR}/*")
list(SORT files)
set(body "")
set(table "")
set(index 0)
foreach(name IN LISTS files)
  file(READ "${WEB_DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_length)
  math(EXPR size "${hex_length} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND body "const char kFile${index}[] = {${bytes} 0};\n")
  string(APPEND table "      {\"${name}\", std::string_view(kFile${index}, ${size})},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp" "// Generated from web/ by scripts/embed_web.cmake. Do not edit.
#include \"engine/http/web_assets.h\"

namespace conveyor::http {
namespace {
${body}}  // namespace

const std::map<std::string_view, std::string_view>& WebAssets() {
  static const std::map<std::string_view, std::string_view> kAssets = {
${table}  };
  return kAssets;
}

}  // namespace conveyor::http
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
