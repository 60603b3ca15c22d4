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
  endif()
endfunction()

# Every C target of the project (library, tests, examples, tools).
function(ipckit_target_defaults target)
  ipckit_target_warnings(${target})
  ipckit_target_sanitizers(${target})
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()
