# taquilla_embed(<target> <namespace> <base_dir> <files...>)
# Compiles the files into <target>, a static library exposing
#   std::string_view <namespace>::Get(std::string_view relative_path)  (empty if absent)
#   const std::vector<std::pair<std::string_view,std::string_view>>& <namespace>::All()
# so the binary carries its migrations and seed data and runs from any directory.
function(taquilla_embed target ns base_dir)
  set(files ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}.cc)
  set(abs_files "")
  foreach(f ${files})
    list(APPEND abs_files ${base_dir}/${f})
  endforeach()
  string(REPLACE ";" "|" files_arg "${files}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DNS=${ns} -DBASE=${base_dir} "-DFILES=${files_arg}"
            -P ${CMAKE_SOURCE_DIR}/cmake/EmbedGen.cmake
    DEPENDS ${abs_files} ${CMAKE_SOURCE_DIR}/cmake/EmbedGen.cmake
    COMMENT "Embedding ${target}"
    VERBATIM)
  add_library(${target} STATIC ${out})
endfunction()
