# Warnings and sanitizers are attached per target, never through global flags
# (as awslabs/aws-c-common cmake/AwsSanitizers.cmake does).
set(SHARDCAST_WARNINGS
    -Wall -Wextra -Wconversion -Wshadow -Wpointer-arith -Wcast-align
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef
    -Wwrite-strings -Wnull-dereference -Wdouble-promotion -Wvla
    -Wimplicit-fallthrough)
# clang's -Wconversion also enables -Wsign-conversion and -Wstring-conversion (ASSERT(!"why")),
# which gcc's does not; the warning contract is gcc's (CI), so clang builds (fuzzing) match it.
if(CMAKE_C_COMPILER_ID MATCHES "Clang")
    list(APPEND SHARDCAST_WARNINGS -Wno-sign-conversion -Wno-string-conversion)
endif()

function(shardcast_target tgt)
    target_compile_options(${tgt} PRIVATE ${SHARDCAST_WARNINGS})
    if(SHARDCAST_WERROR)
        target_compile_options(${tgt} PRIVATE -Werror)
    endif()
    if(SHARDCAST_SANITIZE)
        target_compile_options(${tgt} PRIVATE -fsanitize=address,undefined
                               -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
        target_link_options(${tgt} PRIVATE -fsanitize=address,undefined)
    endif()
    if(SHARDCAST_FUZZ) # clang: coverage for libFuzzer in every library a harness links
        target_compile_options(${tgt} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                               -fno-omit-frame-pointer)
        target_link_options(${tgt} PRIVATE -fsanitize=fuzzer-no-link,address,undefined)
    endif()
endfunction()

# One static library per folder, sources found by glob so that adding a module is adding a file.
function(shardcast_library tgt dir)
    file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.c)
    if(NOT srcs) # a folder whose first module has not landed yet
        set(empty ${CMAKE_CURRENT_BINARY_DIR}/${tgt}_empty.c)
        file(WRITE ${empty} "typedef int ${tgt}_empty_unit;\n")
        set(srcs ${empty})
    endif()
    add_library(${tgt} STATIC ${srcs})
    target_include_directories(${tgt} PUBLIC ${PROJECT_SOURCE_DIR})
    shardcast_target(${tgt})
endfunction()
