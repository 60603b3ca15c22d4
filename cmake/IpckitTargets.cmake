# Warning and sanitizer settings shared by every target of the project.

function(ipckit_target_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral)
  if(IPCKIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(ipckit_target_sanitizers target)
  if(IPCKIT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${IPCKIT_SANITIZE}
                           -fno-omit-frame-pointer -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${IPCKIT_SANITIZE})
    # ThreadSanitizer does not model a standalone atomic_thread_fence(), and
    # GCC says so with -Wtsan. The fences are the seqlock steps of the
    # broadcast ring and the PHP store (shm_bcast.c, sysvshm_store.c), whose
    # readers check the sequence again after copying; those paths are
    # tested across processes (kill -9, stress), which TSan does not see
    # anyway. Everything else under TSan stays -Werror.
    if(IPCKIT_SANITIZE MATCHES "thread" AND CMAKE_C_COMPILER_ID STREQUAL "GNU"
       AND CMAKE_C_COMPILER_VERSION VERSION_GREATER_EQUAL 12)
      target_compile_options(${target} PRIVATE -Wno-tsan)
    endif()
  endif()
endfunction()

# Every C target of the project (library, tests, examples, tools).
function(ipckit_target_defaults target)
  ipckit_target_warnings(${target})
  ipckit_target_sanitizers(${target})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()
