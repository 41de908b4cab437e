# One folder is one library. A library's headers are reachable as
# "<folder>/<name>.h" only by targets that link it: each library gets its own
# include root in the build tree, holding links to the headers of its folder
# (that folder alone, not the folders below it). A library that includes a
# header of another without linking it fails to build.

# imgsearchd_expose(TARGET FOLDER folder SCOPE PUBLIC|PRIVATE|INTERFACE)
function(imgsearchd_expose target)
  cmake_parse_arguments(E "" "FOLDER;SCOPE" "" ${ARGN})
  set(root ${CMAKE_BINARY_DIR}/include/${target})
  file(MAKE_DIRECTORY ${root}/${E_FOLDER})
  file(GLOB headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${E_FOLDER}/*.h ${CMAKE_SOURCE_DIR}/${E_FOLDER}/*.inc)
  foreach(header ${headers})
    get_filename_component(name ${header} NAME)
    file(CREATE_LINK ${header} ${root}/${E_FOLDER}/${name} SYMBOLIC)
  endforeach()
  target_include_directories(${target} ${E_SCOPE} ${root})
endfunction()

# imgsearchd_library(NAME FOLDER folder [SOURCES a.cpp ...] [PUBLIC libs...] [PRIVATE libs...])
# Without SOURCES the library is header-only (an INTERFACE library).
function(imgsearchd_library name)
  cmake_parse_arguments(L "" "FOLDER" "SOURCES;PUBLIC;PRIVATE" ${ARGN})
  if(L_SOURCES)
    add_library(${name} ${L_SOURCES})
    imgsearchd_expose(${name} FOLDER ${L_FOLDER} SCOPE PUBLIC)
    target_link_libraries(${name} PUBLIC ${L_PUBLIC} PRIVATE ${L_PRIVATE})
  else()
    add_library(${name} INTERFACE)
    imgsearchd_expose(${name} FOLDER ${L_FOLDER} SCOPE INTERFACE)
    target_link_libraries(${name} INTERFACE ${L_PUBLIC})
  endif()
endfunction()
